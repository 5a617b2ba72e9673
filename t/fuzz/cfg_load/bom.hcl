# bom
server = false
data_dir = "x"
bootstrap = true
