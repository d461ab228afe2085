/*
 * smtpc_send_file in a host that has not ignored SIGPIPE: sending from a
 * file uses sendfile(2), which has no MSG_NOSIGNAL, so a server that
 * closes the connection mid-message must still not kill the process.
 *
 *     send_file PORT PATH ok|cut
 *
 * ok:  the send must succeed. cut: it must fail (the server closes), and
 * the program must live to say so. Exits 0 when the result is the one
 * expected.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpc.h"

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    /* What a C program gets by default: SIGPIPE terminates it. */
    signal(SIGPIPE, SIG_DFL);
    int want_ok = strcmp(argv[3], "ok") == 0;
    smtpc_client *c = smtpc_client_new();
    smtpc_result r = smtpc_set_server(c, "127.0.0.1", (uint16_t)atoi(argv[1]));
    if (r == SMTPC_OK)
        r = smtpc_set_tls(c, SMTPC_TLS_NONE);
    if (r == SMTPC_OK)
        r = smtpc_set_timeout_ms(c, 10000);
    if (r == SMTPC_OK)
        r = smtpc_connect(c);
    if (r != SMTPC_OK) {
        fprintf(stderr, "setup: %s: %s\n", smtpc_result_str(r), smtpc_error_message(c));
        smtpc_client_free(c);
        return 1;
    }
    const char *to[] = {"b@y.test"};
    r = smtpc_send_file(c, "a@x.test", to, 1, argv[2]);
    printf("result: %s: %s\n", smtpc_result_str(r), r == SMTPC_OK ? "" : smtpc_error_message(c));
    if (r == SMTPC_OK)
        printf("queue id: %s\n", smtpc_queue_id(c));
    smtpc_quit(c);
    smtpc_client_free(c);
    return (r == SMTPC_OK) == want_ok ? 0 : 1;
}
