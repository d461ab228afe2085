/*
 * The credentials callback from C: connects to a server without TLS (a
 * scripted one, on loopback) with XOAUTH2 and a callback that hands out
 * the tokens given on the command line in turn, noting each call's
 * `renew`. A token "-" makes the callback fail (-1), a token "+" makes it
 * claim more than its buffer.
 *
 *     credentials PORT USER TOKEN [TOKEN...]
 *
 * Prints "call N renew=R" per call, then "ok CODE" or "failed RESULT
 * CODE: MESSAGE"; exits with the smtpc_result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpc.h"

struct tokens {
    char **list;
    int count;
    int calls;
};

static ptrdiff_t give(char *buf, size_t size, bool renew, void *user_data)
{
    struct tokens *t = user_data;
    int i = t->calls++;
    printf("call %d renew=%d size=%zu\n", i, renew ? 1 : 0, size);
    if (i >= t->count || strcmp(t->list[i], "-") == 0)
        return -1;
    if (strcmp(t->list[i], "+") == 0)
        return (ptrdiff_t)size + 1;
    size_t len = strlen(t->list[i]);
    if (len > size)
        return -1;
    memcpy(buf, t->list[i], len);
    return (ptrdiff_t)len;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: credentials PORT USER TOKEN...\n");
        return 64;
    }
    struct tokens t = {argv + 3, argc - 3, 0};
    smtpc_client *c = smtpc_client_new();
    smtpc_result r = smtpc_set_server(c, "127.0.0.1", (uint16_t)atoi(argv[1]));
    if (r == SMTPC_OK)
        r = smtpc_set_tls(c, SMTPC_TLS_NONE);
    if (r == SMTPC_OK)
        r = smtpc_set_allow_insecure_auth(c, true);
    if (r == SMTPC_OK)
        r = smtpc_set_auth_mechanisms(c, "XOAUTH2");
    if (r == SMTPC_OK)
        r = smtpc_set_credentials_callback(c, argv[2], give, &t);
    if (r == SMTPC_OK)
        r = smtpc_connect(c);
    if (r == SMTPC_OK) {
        printf("ok %d\n", smtpc_reply_code(c));
        r = smtpc_quit(c);
    } else {
        printf("failed %s %d: %s\n", smtpc_result_str(r), smtpc_reply_code(c),
               smtpc_error_message(c));
    }
    smtpc_client_free(c);
    return (int)r;
}
