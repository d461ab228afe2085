/*
 * smtpc_set_quit_after_send: a program that sends one message and exits.
 * QUIT must leave with the end of the message, the result must be the
 * message's own, and the session must be over afterwards.
 *
 *     one_shot PORT
 *
 * Prints "result: RESULT QUEUE_ID", "connected: 0|1", "again: RESULT".
 * Exits 0 when the calls themselves worked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpc.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    smtpc_client *c = smtpc_client_new();
    smtpc_result r = smtpc_set_server(c, "127.0.0.1", (uint16_t)atoi(argv[1]));
    if (r == SMTPC_OK)
        r = smtpc_set_tls(c, SMTPC_TLS_NONE);
    if (r == SMTPC_OK)
        r = smtpc_set_timeout_ms(c, 10000);
    if (r == SMTPC_OK)
        r = smtpc_set_quit_after_send(c, true);
    if (r == SMTPC_OK)
        r = smtpc_connect(c);
    if (r != SMTPC_OK) {
        fprintf(stderr, "setup: %s: %s\n", smtpc_result_str(r), smtpc_error_message(c));
        smtpc_client_free(c);
        return 1;
    }
    const char *to[] = {"b@y.test"};
    const char *msg = "Subject: cron\r\n\r\nall done\r\n";
    r = smtpc_send(c, "a@x.test", to, 1, msg, strlen(msg));
    const char *id = smtpc_queue_id(c);
    printf("result: %s %s\n", smtpc_result_str(r), id ? id : "-");
    printf("connected: %d\n", smtpc_is_connected(c) ? 1 : 0);
    r = smtpc_send(c, "a@x.test", to, 1, msg, strlen(msg));
    printf("again: %s\n", smtpc_result_str(r));
    smtpc_client_free(c);
    return 0;
}
