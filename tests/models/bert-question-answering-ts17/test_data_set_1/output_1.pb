B
end_logitsJ0xÄ>@ì+@¬ÊT@TØX@búb@‡q@ÁSX@dêE@xÃT@àX@„(@~)G@