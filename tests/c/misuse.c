/*
 * Calls every function of smtpc.h the wrong way: NULL pointers, strings
 * that are not UTF-8, strings with a NUL or CRLF inside, calls out of
 * order, calls after QUIT, freeing NULL. Each must give an error result,
 * never a crash. Also smtpc_client_reset: options gone, session kept. Run
 * by tests/it/c_api.rs (also under valgrind):
 *
 *     misuse PORT1 PORT2 PORT3
 *
 * PORT1 is a scripted server for a whole session; PORT2 and PORT3 see a
 * message abandoned because its read callback failed. Prints
 * "misuse: N checks passed" and exits 0, or lists the failed checks and
 * exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpc.h"

static int checks, failures;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        checks++;                                                                        \
        if (!(cond)) {                                                                   \
            failures++;                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                \
    } while (0)

#define EXPECT(call, want)                                                               \
    do {                                                                                 \
        smtpc_result got_ = (call);                                                      \
        checks++;                                                                        \
        if (got_ != (want)) {                                                            \
            failures++;                                                                  \
            fprintf(stderr, "%s:%d: %s gave %s, expected %s\n", __FILE__, __LINE__,      \
                    #call, smtpc_result_str(got_), #want);                               \
        }                                                                                \
    } while (0)

/* a is a string equal to b (a may be NULL). */
static int eq(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

/* The last error message of c contains needle. */
static int says(const smtpc_client *c, const char *needle)
{
    const char *message = smtpc_error_message(c);
    if (message && strstr(message, needle))
        return 1;
    fprintf(stderr, "error message \"%s\" lacks \"%s\"\n", message ? message : "(NULL)", needle);
    return 0;
}

/* What the transcript saw. */
struct seen {
    int sent, received, info, evil;
};

static void transcript(smtpc_direction direction, const char *line, void *user_data)
{
    struct seen *seen = user_data;
    if (direction == SMTPC_SENT)
        seen->sent++;
    else if (direction == SMTPC_RECEIVED)
        seen->received++;
    else
        seen->info++;
    if (strstr(line, "evil"))
        seen->evil++;
}

/* A read callback that gives a few bytes, then fails. */
static ptrdiff_t failing_read(void *buf, size_t len, void *user_data)
{
    int *calls = user_data;
    if ((*calls)++ > 0)
        return -1;
    const char start[] = "Subject: cut short\r\n\r\nthe rest never comes";
    size_t n = strlen(start) < len ? strlen(start) : len;
    memcpy(buf, start, n);
    return (ptrdiff_t)n;
}

/* A read callback that claims more bytes than it was asked for. */
static ptrdiff_t lying_read(void *buf, size_t len, void *user_data)
{
    (void)buf;
    (void)user_data;
    return (ptrdiff_t)len + 1;
}

static void null_handle(void)
{
    smtpc_client *c = NULL;
    const char *to[] = {"b@y"};
    smtpc_client_free(NULL);
    EXPECT(smtpc_client_reset(c), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_server(c, "localhost", 25), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_helo_name(c, "client.test"), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_timeout_ms(c, 1000), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_connect_timeout_ms(c, 1000), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_transcript(c, transcript, NULL), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_tls(c, SMTPC_TLS_NONE), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_credentials(c, "user", "secret"), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_auth_mechanisms(c, "PLAIN"), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_allow_insecure_auth(c, true), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_ca_file(c, "/etc/ssl/certs/ca-certificates.crt"), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_ca_blob(c, "x", 1), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_system_roots(c, false), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_client_cert_pem(c, "x", 1, "y", 1), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_client_cert_pkcs12(c, "x", 1, "pw"), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_min_tls_version(c, SMTPC_TLS_VERSION_1_3), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_tls_server_name(c, "mail.test"), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_danger_accept_invalid_certs(c, true), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_danger_accept_invalid_hostnames(c, true), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_connect(c), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_mail(c, "a@x"), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_rcpt(c, "b@y"), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_data(c, "x", 1), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_data_stream(c, failing_read, NULL), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_send(c, "a@x", to, 1, "x", 1), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_send_stream(c, "a@x", to, 1, failing_read, NULL), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_send_file(c, "a@x", to, 1, "/dev/null"), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_send_batch(c, NULL, 0), SMTPC_INVALID_ARGUMENT);
    CHECK(smtpc_batch_count(c) == 0);
    CHECK(smtpc_batch_result(c, 0) == SMTPC_INVALID_ARGUMENT);
    CHECK(smtpc_batch_reply_code(c, 0) == 0);
    CHECK(smtpc_batch_queue_id(c, 0) == NULL);
    CHECK(smtpc_batch_error_message(c, 0) == NULL);
    EXPECT(smtpc_rset(c), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_noop(c), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_quit(c), SMTPC_INVALID_ARGUMENT);
    CHECK(!smtpc_is_connected(c));
    CHECK(!smtpc_is_encrypted(c));
    CHECK(!smtpc_has_extension(c, "SIZE"));
    CHECK(smtpc_reply_code(c) == 0);
    CHECK(smtpc_reply_enhanced(c) == NULL);
    CHECK(smtpc_reply_text(c) != NULL && smtpc_reply_text(c)[0] == '\0');
    CHECK(smtpc_error_message(c) != NULL && strstr(smtpc_error_message(c), "NULL"));
    CHECK(smtpc_queue_id(c) == NULL);
    CHECK(smtpc_rejected_count(c) == 0);
    CHECK(smtpc_rejected_address(c, 0) == NULL);
    CHECK(smtpc_rejected_code(c, 0) == 0);
    CHECK(smtpc_rejected_enhanced(c, 0) == NULL);
    CHECK(smtpc_rejected_text(c, 0) == NULL);
}

static void without_a_server(void)
{
    for (int r = -1; r <= 13; r++)
        CHECK(smtpc_result_str(r) != NULL && smtpc_result_str(r)[0] != '\0');
    CHECK(eq(smtpc_result_str(SMTPC_OK), "ok"));
    CHECK(eq(smtpc_result_str(99), "unknown result"));
    CHECK(eq(smtpc_version(), SMTPC_VERSION));

    smtpc_client *c = smtpc_client_new();
    CHECK(c != NULL);
    const char *to[] = {"b@y", NULL};
    EXPECT(smtpc_set_server(c, NULL, 25), SMTPC_INVALID_ARGUMENT);
    CHECK(says(c, "host is NULL"));
    EXPECT(smtpc_set_server(c, "mail\xff.example", 25), SMTPC_INVALID_ARGUMENT);
    CHECK(says(c, "not valid UTF-8"));
    EXPECT(smtpc_set_server(c, "", 25), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_helo_name(c, NULL), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_helo_name(c, "\xc3("), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_timeout_ms(c, 0), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_connect_timeout_ms(c, 0), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_transcript(c, NULL, NULL), SMTPC_OK);
    CHECK(smtpc_error_message(c)[0] == '\0');
    /* TLS and AUTH options. */
    EXPECT(smtpc_set_tls(c, 4), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_tls(c, -1), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_tls(c, SMTPC_TLS_IMPLICIT), SMTPC_OK);
    EXPECT(smtpc_set_min_tls_version(c, 11), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_min_tls_version(c, SMTPC_TLS_VERSION_1_2), SMTPC_OK);
    EXPECT(smtpc_set_credentials(c, NULL, "secret"), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_credentials(c, "user", NULL), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_credentials(c, "user", "hunter\xff" "2"), SMTPC_INVALID_ARGUMENT);
    CHECK(!strstr(smtpc_error_message(c), "hunter"));
    EXPECT(smtpc_set_auth_mechanisms(c, NULL), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_auth_mechanisms(c, "PLAIN KERBEROS"), SMTPC_INVALID_ARGUMENT);
    CHECK(says(c, "KERBEROS"));
    EXPECT(smtpc_set_auth_mechanisms(c, ""), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_ca_file(c, NULL), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_ca_file(c, ""), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_ca_blob(c, NULL, 10), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_ca_blob(c, "x", 0), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_client_cert_pem(c, NULL, 3, "key", 3), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_client_cert_pem(c, "crt", 3, NULL, 0), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_client_cert_pkcs12(c, "p12", 3, NULL), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_set_tls_server_name(c, NULL), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_connect(c), SMTPC_INVALID_ARGUMENT);
    CHECK(says(c, "smtpc_set_server"));
    /* A reset forgets the server: connecting is again an invalid argument. */
    EXPECT(smtpc_set_server(c, "localhost", 2525), SMTPC_OK);
    EXPECT(smtpc_set_timeout_ms(c, 0), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_client_reset(c), SMTPC_OK);
    CHECK(smtpc_error_message(c)[0] == '\0');
    EXPECT(smtpc_connect(c), SMTPC_INVALID_ARGUMENT);
    CHECK(says(c, "smtpc_set_server"));
    /* Steps before connecting. */
    EXPECT(smtpc_mail(c, "a@x"), SMTPC_CLOSED);
    CHECK(says(c, "not connected"));
    EXPECT(smtpc_rcpt(c, "b@y"), SMTPC_CLOSED);
    EXPECT(smtpc_data(c, "x", 1), SMTPC_CLOSED);
    EXPECT(smtpc_send(c, "a@x", to, 1, "x", 1), SMTPC_CLOSED);
    smtpc_message m = {"a@x", to, 1, "x", 1};
    EXPECT(smtpc_send_batch(c, &m, 1), SMTPC_CLOSED);
    EXPECT(smtpc_send_batch(c, NULL, 0), SMTPC_CLOSED);
    EXPECT(smtpc_rset(c), SMTPC_CLOSED);
    EXPECT(smtpc_noop(c), SMTPC_CLOSED);
    EXPECT(smtpc_quit(c), SMTPC_CLOSED);
    /* Bad arguments are found before the missing session. */
    EXPECT(smtpc_mail(c, NULL), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_rcpt(c, "\x80"), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_data(c, NULL, 5), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_data_stream(c, NULL, NULL), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_send(c, "a@x", NULL, 1, "x", 1), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_send(c, "a@x", to, 2, "x", 1), SMTPC_INVALID_ARGUMENT);
    CHECK(says(c, "to[1] is NULL"));
    EXPECT(smtpc_send(c, "a@x", to, 0, "x", 1), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_send(c, NULL, to, 1, "x", 1), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_send_stream(c, "a@x", to, 1, NULL, NULL), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_send_file(c, "a@x", to, 1, NULL), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_send_file(c, "a@x", to, 1, "/nonexistent/message.eml"), SMTPC_IO);
    CHECK(says(c, "/nonexistent/message.eml"));
    EXPECT(smtpc_send_batch(c, NULL, 1), SMTPC_INVALID_ARGUMENT);
    CHECK(says(c, "messages is NULL"));
    CHECK(!smtpc_has_extension(c, NULL));
    smtpc_client_free(c);
}

static void session(int port, struct seen *seen)
{
    smtpc_client *c = smtpc_client_new();
    EXPECT(smtpc_set_server(c, "127.0.0.1", (uint16_t)port), SMTPC_OK);
    EXPECT(smtpc_set_tls(c, SMTPC_TLS_NONE), SMTPC_OK);
    EXPECT(smtpc_set_timeout_ms(c, 20000), SMTPC_OK);
    EXPECT(smtpc_set_transcript(c, transcript, seen), SMTPC_OK);
    /* C ends the string at the NUL: the server sees "client.test". */
    EXPECT(smtpc_set_helo_name(c, "client.test\0.evil"), SMTPC_OK);
    EXPECT(smtpc_connect(c), SMTPC_OK);
    CHECK(smtpc_reply_code(c) == 220);
    CHECK(smtpc_is_connected(c));
    CHECK(!smtpc_is_encrypted(c));
    CHECK(smtpc_has_extension(c, "size"));
    CHECK(!smtpc_has_extension(c, "CHUNKING"));
    CHECK(!smtpc_has_extension(c, "\xff"));
    EXPECT(smtpc_connect(c), SMTPC_INVALID_ARGUMENT);
    CHECK(says(c, "already connected"));
    /* A reset keeps the open session (and its transcript); the options it
       forgot are missed only at the next smtpc_connect, below. */
    EXPECT(smtpc_client_reset(c), SMTPC_OK);
    CHECK(smtpc_reply_code(c) == 0);
    CHECK(smtpc_is_connected(c));
    CHECK(smtpc_has_extension(c, "SIZE"));

    /* Injections are refused before anything is sent. */
    EXPECT(smtpc_mail(c, "a@x>\r\nRCPT TO:<evil@x"), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_mail(c, "a\xff@x"), SMTPC_INVALID_ARGUMENT);
    EXPECT(smtpc_mail(c, "a@x"), SMTPC_OK);
    CHECK(smtpc_reply_code(c) == 250);
    CHECK(eq(smtpc_reply_enhanced(c), "2.1.0"));
    EXPECT(smtpc_rcpt(c, "b@y\0>\r\nRCPT TO:<evil@x>"), SMTPC_OK);
    EXPECT(smtpc_rcpt(c, "c@y"), SMTPC_PERMANENT);
    CHECK(smtpc_reply_code(c) == 550);
    CHECK(eq(smtpc_reply_enhanced(c), "5.1.1"));
    CHECK(eq(smtpc_reply_text(c), "No such user"));
    CHECK(says(c, "RCPT TO:<c@y>: 550 5.1.1 No such user"));
    EXPECT(smtpc_data(c, NULL, 10), SMTPC_INVALID_ARGUMENT);
    CHECK(smtpc_reply_code(c) == 0);
    static const char message[] = "Subject: misuse\r\n\r\nnul:\0:end\r\n.dot\r\n";
    EXPECT(smtpc_data(c, message, sizeof message - 1), SMTPC_OK);
    CHECK(smtpc_reply_code(c) == 250);
    CHECK(eq(smtpc_queue_id(c), "Q1"));
    EXPECT(smtpc_noop(c), SMTPC_OK);
    CHECK(smtpc_queue_id(c) == NULL);
    EXPECT(smtpc_quit(c), SMTPC_OK);
    CHECK(smtpc_reply_code(c) == 221);
    CHECK(!smtpc_is_connected(c));

    /* Use after QUIT: every step says there is no session. */
    const char *to[] = {"b@y"};
    EXPECT(smtpc_mail(c, "a@x"), SMTPC_CLOSED);
    CHECK(smtpc_reply_code(c) == 0);
    CHECK(smtpc_error_message(c)[0] != '\0');
    EXPECT(smtpc_rcpt(c, "b@y"), SMTPC_CLOSED);
    EXPECT(smtpc_data(c, "x", 1), SMTPC_CLOSED);
    EXPECT(smtpc_data_stream(c, failing_read, NULL), SMTPC_CLOSED);
    EXPECT(smtpc_send(c, "a@x", to, 1, "x", 1), SMTPC_CLOSED);
    EXPECT(smtpc_rset(c), SMTPC_CLOSED);
    EXPECT(smtpc_noop(c), SMTPC_CLOSED);
    EXPECT(smtpc_quit(c), SMTPC_CLOSED);
    CHECK(!smtpc_has_extension(c, "SIZE"));
    EXPECT(smtpc_connect(c), SMTPC_INVALID_ARGUMENT);
    CHECK(says(c, "smtpc_set_server"));
    smtpc_client_free(c);
}

/* A message whose read callback fails is abandoned: never reported as
   sent, and the server never sees its end. */
static void abandoned(int port, smtpc_read_fn read, const char *why)
{
    smtpc_client *c = smtpc_client_new();
    /* Options set, then reset: the transcript is never called, and the
       options set afterwards are the ones used. */
    struct seen unseen = {0, 0, 0, 0};
    EXPECT(smtpc_set_transcript(c, transcript, &unseen), SMTPC_OK);
    EXPECT(smtpc_set_server(c, "192.0.2.1", 1), SMTPC_OK);
    EXPECT(smtpc_set_tls(c, SMTPC_TLS_IMPLICIT), SMTPC_OK);
    EXPECT(smtpc_set_helo_name(c, "bad name!"), SMTPC_OK);
    EXPECT(smtpc_client_reset(c), SMTPC_OK);
    EXPECT(smtpc_set_server(c, "127.0.0.1", (uint16_t)port), SMTPC_OK);
    EXPECT(smtpc_set_tls(c, SMTPC_TLS_NONE), SMTPC_OK);
    EXPECT(smtpc_set_timeout_ms(c, 20000), SMTPC_OK);
    EXPECT(smtpc_connect(c), SMTPC_OK);
    CHECK(unseen.sent == 0 && unseen.received == 0 && unseen.info == 0);
    EXPECT(smtpc_mail(c, "a@x"), SMTPC_OK);
    EXPECT(smtpc_rcpt(c, "b@y"), SMTPC_OK);
    int calls = 0;
    EXPECT(smtpc_data_stream(c, read, &calls), SMTPC_IO);
    CHECK(says(c, why));
    CHECK(smtpc_reply_code(c) == 0);
    CHECK(!smtpc_is_connected(c));
    EXPECT(smtpc_noop(c), SMTPC_CLOSED);
    smtpc_client_free(c);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s PORT1 PORT2 PORT3\n", argv[0]);
        return 2;
    }
    null_handle();
    without_a_server();
    struct seen seen = {0, 0, 0, 0};
    session(atoi(argv[1]), &seen);
    CHECK(seen.sent >= 7 && seen.received >= 8 && seen.info >= 1);
    CHECK(seen.evil == 0);
    abandoned(atoi(argv[2]), failing_read, "read callback reported an error (-1)");
    abandoned(atoi(argv[3]), lying_read, "more than the");
    if (failures) {
        fprintf(stderr, "misuse: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("misuse: %d checks passed\n", checks);
    return 0;
}
