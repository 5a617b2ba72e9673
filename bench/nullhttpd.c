/* nullhttpd.c - the benchmark's reference server: does nothing, fast.
 *
 * Same stack as the agent's HTTP side (libh2o 2.2 on libuv, one loop,
 * HTTP/1.1 keep-alive), but every request, whatever its method, path or
 * body, gets "200 OK" with a 5-byte JSON body. bench/run.sh measures the
 * agent against it so that the ratio shows what the agent itself costs.
 *
 * Usage: nullhttpd IP PORT   (stops on SIGINT/SIGTERM)
 * Build: cc -std=c11 -D_GNU_SOURCE -O2 nullhttpd.c $(pkg-config --cflags --libs libh2o libuv openssl)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <h2o.h>
#include <uv.h>

static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;
static uv_tcp_t listener;
static uv_signal_t sigint_h, sigterm_h;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    static const char body[] = "true\n";

    (void)self;
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = sizeof(body) - 1;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
                   NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, body, sizeof(body) - 1);
    return 0;
}

static void on_close_free(uv_handle_t *h)
{
    free(h);
}

static void on_accept(uv_stream_t *server, int status)
{
    uv_tcp_t *conn;
    h2o_socket_t *sock;

    if (status != 0)
        return;
    conn = malloc(sizeof(*conn));
    if (conn == NULL)
        return;
    uv_tcp_init(server->loop, conn);
    if (uv_accept(server, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, on_close_free);
        return;
    }
    uv_tcp_nodelay(conn, 1);
    sock = h2o_uv_socket_create((uv_stream_t *)conn, on_close_free);
    h2o_accept(&accept_ctx, sock);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    uv_stop(h->loop);
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    h2o_hostconf_t *hostconf;
    h2o_pathconf_t *pathconf;
    h2o_handler_t *handler;
    uv_loop_t loop;
    int r;

    if (argc != 3) {
        fprintf(stderr, "usage: nullhttpd IP PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (uv_ip4_addr(argv[1], atoi(argv[2]), &addr) != 0) {
        fprintf(stderr, "nullhttpd: bad address %s:%s\n", argv[1], argv[2]);
        return 2;
    }

    h2o_config_init(&config);
    hostconf = h2o_config_register_host(
        &config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    pathconf = h2o_config_register_path(hostconf, "/", 0);
    handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = on_req;

    uv_loop_init(&loop);
    h2o_context_init(&ctx, &loop, &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;

    uv_tcp_init(&loop, &listener);
    if ((r = uv_tcp_bind(&listener, (struct sockaddr *)&addr, 0)) != 0 ||
        (r = uv_listen((uv_stream_t *)&listener, 1024, on_accept)) != 0) {
        fprintf(stderr, "nullhttpd: %s:%s: %s\n", argv[1], argv[2],
                uv_strerror(r));
        return 1;
    }
    uv_signal_init(&loop, &sigint_h);
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_init(&loop, &sigterm_h);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);

    printf("nullhttpd: listening on http://%s:%s\n", argv[1], argv[2]);
    fflush(stdout);
    uv_run(&loop, UV_RUN_DEFAULT);
    return 0;
}
