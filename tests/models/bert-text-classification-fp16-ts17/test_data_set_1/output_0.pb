
BlogitsJ¥<8Ü?9i·È=