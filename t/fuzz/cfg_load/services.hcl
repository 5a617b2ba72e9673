# one service per block, as a directory of files would have
data_dir = "/var/lib/consul"
service {
  name = "web"
  id = "web1"
  port = 80
  tags = ["v1", "primary"]
  meta { version = "1.2" }
  check {
    http = "http://localhost/health"
    interval = "10s"
  }
}
service "db" {
  port = 5432
}
checks = [
  { id = "mem", args = ["/bin/true"], interval = "30s" },
]
description = <<-EOT
  heredoc
  EOT
hex = 0x1F
octal = 017
float = 1.5e3
