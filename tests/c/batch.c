/*
 * smtpc_send_batch: four messages, one of them with an invalid recipient
 * (never sent) and one whose only recipient the server refuses; each
 * message's result, reply code, queue id and error, one line each.
 *
 *     batch PORT
 *
 * Prints "overall: RESULT" then "I: RESULT CODE QUEUE_ID | ERROR" per
 * message. Exits 0 when the calls themselves worked.
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
        r = smtpc_connect(c);
    if (r != SMTPC_OK) {
        fprintf(stderr, "setup: %s: %s\n", smtpc_result_str(r), smtpc_error_message(c));
        smtpc_client_free(c);
        return 1;
    }
    const char *one[] = {"b@y.test"};
    const char *bad[] = {"bad\r\nRSET@y.test"};
    const char *nobody[] = {"nobody@y.test"};
    const char *three[] = {"d@y.test"};
    const char *bodies[] = {"one\r\n", "never sent\r\n", "two\r\n", "three\r\n"};
    const char *const *tos[] = {one, bad, nobody, three};
    smtpc_message messages[4];
    for (int i = 0; i < 4; i++) {
        messages[i].from = "a@x.test";
        messages[i].to = tos[i];
        messages[i].to_count = 1;
        messages[i].data = bodies[i];
        messages[i].len = strlen(bodies[i]);
    }
    r = smtpc_send_batch(c, messages, 4);
    printf("overall: %s\n", smtpc_result_str(r));
    printf("error: %s\n", smtpc_error_message(c));
    size_t n = smtpc_batch_count(c);
    for (size_t i = 0; i < n; i++) {
        const char *id = smtpc_batch_queue_id(c, i);
        printf("%zu: %s %d %s | %s\n", i, smtpc_result_str(smtpc_batch_result(c, i)),
               smtpc_batch_reply_code(c, i), id ? id : "-", smtpc_batch_error_message(c, i));
    }
    /* Out of range: the documented answers, no crash. */
    if (smtpc_batch_result(c, n) != SMTPC_INVALID_ARGUMENT || smtpc_batch_queue_id(c, n) != NULL
        || smtpc_batch_error_message(c, n) != NULL || smtpc_batch_reply_code(c, n) != 0)
        return 1;
    smtpc_quit(c);
    if (smtpc_batch_count(c) != 0)
        return 1;
    smtpc_client_free(c);
    return 0;
}
