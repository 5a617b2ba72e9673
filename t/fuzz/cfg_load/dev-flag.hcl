dev = true
