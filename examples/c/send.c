/*
 * send: sends a file as one mail message through smtpc.
 *
 *     send SERVER PORT FROM TO FILE
 *
 * TO may list several addresses separated by commas. The file is
 * streamed, so its size does not matter. The environment sets the rest:
 *
 *     SMTPC_TLS       none, starttls (the default: required), opportunistic
 *                     or implicit
 *     SMTPC_CA_FILE   a PEM file of roots to trust besides the system's
 *     SMTPC_USER      authenticate as this user, with the password in
 *     SMTPC_PASSWORD  (never on the command line, where ps shows it)
 *     SMTPC_PROXY     go through this SOCKS5 proxy: socks5://[user:pass@]host:port
 *     SMTPC_SOURCE_IP connect from this local address
 *     SMTPC_VERBOSE   if set, the exchange is shown on stderr
 *
 * Exit status: 0 sent to every recipient; 3 sent, but some recipients
 * were refused (listed on stderr); 1 not sent; 2 bad arguments or file.
 *
 * Build (see README.md):
 *     cc -o send examples/c/send.c $(pkg-config --cflags --libs smtpc)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpc.h"

#define MAX_RECIPIENTS 64

/* smtpc_read_fn: the message comes from a FILE *. */
static ptrdiff_t read_file(void *buf, size_t len, void *user_data)
{
    FILE *file = user_data;
    size_t n = fread(buf, 1, len, file);
    if (n == 0 && ferror(file))
        return -1;
    return (ptrdiff_t)n;
}

/* smtpc_transcript_fn: C: for the client, S: for the server. */
static void show(smtpc_direction direction, const char *line, void *user_data)
{
    const char *who = direction == SMTPC_SENT ? "C" : direction == SMTPC_RECEIVED ? "S" : "*";
    fprintf((FILE *)user_data, "%s: %s\n", who, line);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s SERVER PORT FROM TO[,TO...] FILE\n", argv[0]);
        return 2;
    }
    static const char *const modes[] = {"none", "starttls", "opportunistic", "implicit"};
    static const int mode_values[] = {SMTPC_TLS_NONE, SMTPC_TLS_STARTTLS,
                                      SMTPC_TLS_OPPORTUNISTIC, SMTPC_TLS_IMPLICIT};
    const char *tls_name = getenv("SMTPC_TLS");
    int tls = SMTPC_TLS_STARTTLS;
    if (tls_name) {
        size_t i = 0;
        while (i < 4 && strcmp(tls_name, modes[i]) != 0)
            i++;
        if (i == 4) {
            fprintf(stderr, "send: SMTPC_TLS must be none, starttls, opportunistic or implicit\n");
            return 2;
        }
        tls = mode_values[i];
    }
    const char *ca_file = getenv("SMTPC_CA_FILE");
    const char *user = getenv("SMTPC_USER"), *password = getenv("SMTPC_PASSWORD");
    const char *server = argv[1], *from = argv[3], *path = argv[5];
    char *end;
    long port = strtol(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "send: bad port: %s\n", argv[2]);
        return 2;
    }
    const char *to[MAX_RECIPIENTS];
    size_t to_count = 0;
    for (char *rcpt = strtok(argv[4], ","); rcpt; rcpt = strtok(NULL, ",")) {
        if (to_count == MAX_RECIPIENTS) {
            fprintf(stderr, "send: more than %d recipients\n", MAX_RECIPIENTS);
            return 2;
        }
        to[to_count++] = rcpt;
    }
    FILE *file = fopen(path, "rb");
    if (!file) {
        perror(path);
        return 2;
    }

    smtpc_client *c = smtpc_client_new();
    if (!c) {
        fprintf(stderr, "send: out of memory\n");
        fclose(file);
        return 1;
    }
    int status = 1;
    smtpc_result r = smtpc_set_server(c, server, (uint16_t)port);
    if (r == SMTPC_OK)
        r = smtpc_set_tls(c, tls);
    if (r == SMTPC_OK && ca_file)
        r = smtpc_set_ca_file(c, ca_file);
    if (r == SMTPC_OK && user)
        r = smtpc_set_credentials(c, user, password ? password : "");
    if (r == SMTPC_OK)
        r = smtpc_set_timeout_ms(c, 60000);
    if (r == SMTPC_OK && getenv("SMTPC_PROXY"))
        r = smtpc_set_proxy(c, getenv("SMTPC_PROXY"));
    if (r == SMTPC_OK && getenv("SMTPC_SOURCE_IP"))
        r = smtpc_set_local_address(c, getenv("SMTPC_SOURCE_IP"));
    if (r == SMTPC_OK && getenv("SMTPC_VERBOSE"))
        r = smtpc_set_transcript(c, show, stderr);
    if (r == SMTPC_OK)
        r = smtpc_connect(c);
    if (r == SMTPC_OK)
        r = smtpc_send_stream(c, from, to, to_count, read_file, file);

    if (r == SMTPC_OK || r == SMTPC_PARTIAL) {
        const char *id = smtpc_queue_id(c);
        printf("sent%s: %d %s%s%s\n", smtpc_is_encrypted(c) ? " over TLS" : "",
               smtpc_reply_code(c), smtpc_reply_text(c), id ? "; queue id " : "", id ? id : "");
        status = r == SMTPC_OK ? 0 : 3;
    } else {
        fprintf(stderr, "send: %s: %s (reply %d)\n", smtpc_result_str(r),
                smtpc_error_message(c), smtpc_reply_code(c));
    }
    for (size_t i = 0; i < smtpc_rejected_count(c); i++) {
        const char *enhanced = smtpc_rejected_enhanced(c, i);
        fprintf(stderr, "refused: %s: %d %s%s%s\n", smtpc_rejected_address(c, i),
                smtpc_rejected_code(c, i), enhanced ? enhanced : "", enhanced ? " " : "",
                smtpc_rejected_text(c, i));
    }

    if (smtpc_is_connected(c))
        smtpc_quit(c);
    smtpc_client_free(c);
    fclose(file);
    return status;
}
