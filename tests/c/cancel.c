/*
 * smtpc_cancel from another thread, smtpc_connect_fd, and the checks of
 * the options that reach the server.
 *
 *     cancel SILENT_PORT SESSION_PORT
 *
 * SILENT_PORT: a server that greets, answers EHLO and then says nothing.
 * SESSION_PORT: a server for one whole message, reached over a socket
 * this program connects itself.
 *
 * Prints "cancel to return: N.NNN ms" (the time from smtpc_cancel to the
 * blocked call's return) and "checks passed"; exits 0 when every check
 * passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smtpc.h"

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

struct canceller {
    smtpc_client *c;
    double cancelled_at;
};

/* Waits 300 ms, then cancels whatever the main thread is doing on c. */
static void *cancel_later(void *arg)
{
    struct canceller *k = arg;
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    k->cancelled_at = now_ms();
    smtpc_cancel(k->c);
    return NULL;
}

static const char *message = "Subject: cancel\r\n\r\nbody\r\n";

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    uint16_t silent = (uint16_t)atoi(argv[1]), session = (uint16_t)atoi(argv[2]);
    const char *to[] = {"b@y.test"};

    smtpc_cancel(NULL); /* a no-op */

    smtpc_client *c = smtpc_client_new();
    CHECK(smtpc_set_server(c, "127.0.0.1", silent) == SMTPC_OK);
    CHECK(smtpc_set_tls(c, SMTPC_TLS_NONE) == SMTPC_OK);
    CHECK(smtpc_set_helo_name(c, "client.test") == SMTPC_OK);
    /* Only a cancel can end the wait below before a minute. */
    CHECK(smtpc_set_timeout_ms(c, 60000) == SMTPC_OK);
    CHECK(smtpc_set_phase_timeout_ms(c, SMTPC_PHASE_MAIL, 60000) == SMTPC_OK);

    /* The options' own checks. */
    CHECK(smtpc_set_phase_timeout_ms(c, 99, 1000) == SMTPC_INVALID_ARGUMENT);
    CHECK(smtpc_set_phase_timeout_ms(c, SMTPC_PHASE_DATA, 0) == SMTPC_INVALID_ARGUMENT);
    CHECK(smtpc_set_local_address(c, "not an address") == SMTPC_INVALID_ARGUMENT);
    CHECK(smtpc_set_local_address(c, "127.0.0.1") == SMTPC_OK);
    CHECK(smtpc_set_local_address(c, NULL) == SMTPC_OK);
    CHECK(smtpc_set_proxy(c, "http://127.0.0.1:3128") == SMTPC_INVALID_ARGUMENT);
    CHECK(smtpc_set_proxy(c, "socks5://u:p@127.0.0.1:1") == SMTPC_OK);
    CHECK(smtpc_set_proxy(c, "") == SMTPC_OK);
    CHECK(smtpc_set_call_timeout_ms(c, 0) == SMTPC_OK);

    CHECK(smtpc_connect(c) == SMTPC_OK);

    /* 1. A send blocked on the silent server, cancelled from another thread. */
    struct canceller k = {c, 0};
    pthread_t thread;
    if (pthread_create(&thread, NULL, cancel_later, &k) != 0)
        return 1;
    smtpc_result r = smtpc_send(c, "a@x.test", to, 1, message, strlen(message));
    double returned_at = now_ms();
    pthread_join(thread, NULL);
    CHECK(r == SMTPC_CANCELLED);
    printf("cancel to return: %.3f ms\n", returned_at - k.cancelled_at);
    printf("send: %s: %s\n", smtpc_result_str(r), smtpc_error_message(c));

    /* 2. The session is over, and the next call says why. */
    CHECK(!smtpc_is_connected(c));
    CHECK(smtpc_noop(c) == SMTPC_CANCELLED);

    /* 3. A cancel with no call in progress ends the next call at once,
     *    before any connection is made. */
    smtpc_cancel(c);
    CHECK(smtpc_connect(c) == SMTPC_CANCELLED);
    smtpc_client_free(c);

    /* 4. A socket this program connected; it closes its descriptor itself. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(session);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    c = smtpc_client_new();
    CHECK(smtpc_set_server(c, "127.0.0.1", 0) == SMTPC_OK);
    CHECK(smtpc_set_tls(c, SMTPC_TLS_NONE) == SMTPC_OK);
    CHECK(smtpc_set_helo_name(c, "client.test") == SMTPC_OK);
    CHECK(smtpc_connect_fd(c, -1) == SMTPC_INVALID_ARGUMENT);
    CHECK(smtpc_connect_fd(c, 0) == SMTPC_INVALID_ARGUMENT); /* stdin: no socket */
    CHECK(smtpc_connect_fd(c, fd) == SMTPC_OK);
    close(fd); /* smtpc keeps its own copy */
    CHECK(smtpc_send(c, "a@x.test", to, 1, message, strlen(message)) == SMTPC_OK);
    CHECK(smtpc_quit(c) == SMTPC_OK);
    smtpc_client_free(c);

    if (failures == 0)
        printf("checks passed\n");
    return failures == 0 ? 0 : 1;
}
