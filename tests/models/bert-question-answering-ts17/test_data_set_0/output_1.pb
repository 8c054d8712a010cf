B
end_logitsJ6âb@M^<@©Ó`@2BQ@Ð¡_@`§;@Nà=@