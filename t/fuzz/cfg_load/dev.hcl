datacenter = "east"
data_dir = "/tmp/consul"
node_name = "n1"
server = true
bootstrap_expect = 3
bind_addr = "0.0.0.0"
client_addr = "127.0.0.1 ::1"
retry_join = ["10.0.0.2", "10.0.0.3"]
ports {
  http = 8500
  dns = -1
}
acl {
  enabled = true
  default_policy = "deny"
  tokens {
    initial_management = "b1gs33cr3t"
  }
}
performance { raft_multiplier = 1 }
log_level = "DEBUG"
ui_config { enabled = true }
