/*
 * LMTP to a mailbox store over its UNIX socket: one reply per recipient.
 *
 *     lmtp SOCKET RCPT...
 *
 * Prints "result: RESULT", then "stored: ADDRESS CODE" for each recipient
 * the message went to and "refused: ADDRESS CODE" for each refused one
 * (at RCPT or after the message), "unknown: ADDRESS" for the rest.
 * Exits 0 when the calls themselves worked.
 */
#include <stdio.h>
#include <string.h>

#include "smtpc.h"

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    smtpc_client *c = smtpc_client_new();
    smtpc_result r = smtpc_set_unix_socket(c, argv[1]);
    if (r == SMTPC_OK)
        r = smtpc_set_protocol(c, SMTPC_PROTOCOL_LMTP);
    if (r == SMTPC_OK)
        r = smtpc_set_timeout_ms(c, 20000);
    if (r == SMTPC_OK)
        r = smtpc_connect(c);
    if (r != SMTPC_OK) {
        fprintf(stderr, "setup: %s: %s\n", smtpc_result_str(r), smtpc_error_message(c));
        smtpc_client_free(c);
        return 1;
    }
    const char *msg = "Subject: from C over LMTP\r\n\r\nHello, mailbox.\r\n";
    r = smtpc_send(c, "sender@x.test", (const char *const *)&argv[2], (size_t)(argc - 2), msg,
                   strlen(msg));
    printf("result: %s\n", smtpc_result_str(r));
    for (size_t i = 0; i < smtpc_accepted_count(c); i++)
        printf("stored: %s %d\n", smtpc_accepted_address(c, i), smtpc_accepted_code(c, i));
    for (size_t i = 0; i < smtpc_rejected_count(c); i++)
        printf("refused: %s %d\n", smtpc_rejected_address(c, i), smtpc_rejected_code(c, i));
    for (size_t i = 0; i < smtpc_unknown_count(c); i++)
        printf("unknown: %s\n", smtpc_unknown_address(c, i));
    /* Out of range and NULL: no crash, nothing. */
    if (smtpc_accepted_address(c, 99) != NULL || smtpc_accepted_code(NULL, 0) != 0)
        return 3;
    if (smtpc_set_protocol(c, 7) != SMTPC_INVALID_ARGUMENT)
        return 4;
    smtpc_quit(c);
    smtpc_client_free(c);
    return 0;
}
