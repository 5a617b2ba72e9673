a "b" "c" { d = [1, 2, {e = true},] }
unterminated = "x
