
BlogitsJ­·Åµ¾@