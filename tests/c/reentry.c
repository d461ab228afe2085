/*
 * Calls into a handle from inside its own callbacks: each callback kind
 * (transcript, read, credentials) calls each kind of function (an
 * accessor, a setter, an action; and, in a scenario of its own, free).
 * Every scenario runs against a scripted server on loopback whose port
 * the test gives:
 *
 *     reentry SCENARIO=PORT [SCENARIO=PORT...]
 *
 * SCENARIO is transcript-calls, transcript-free, read-calls, read-free,
 * credentials-calls or credentials-free. Prints "SCENARIO ok" or
 * "SCENARIO FAIL: why" per scenario; exits 1 if any failed. Run under
 * valgrind and AddressSanitizer by tests/it/c_reentry.rs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpc.h"

static int failures;
static const char *current;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            printf("%s FAIL: ", current);                                     \
            printf(__VA_ARGS__);                                              \
            printf("\n");                                                     \
            failures++;                                                       \
        }                                                                     \
    } while (0)

/* What a callback found when it called back into its handle. */
struct nested {
    smtpc_client *c;
    int calls;       /* how many times the nested calls were made */
    int frees;       /* how many times the callback freed the handle */
    int free_on;     /* free instead of calling (the *-free scenarios) */
    const char *trigger; /* transcript: the line that triggers the calls */
    const char *content; /* read: the message */
    size_t offset;
};

/* The accessors, a setter and the actions from inside a callback: each
 * must say "busy" and change nothing. */
static void call_everything(struct nested *n)
{
    smtpc_client *c = n->c;
    n->calls++;
    /* accessors: what they give for NULL */
    CHECK(smtpc_reply_code(c) == 0, "reply_code %d", smtpc_reply_code(c));
    CHECK(smtpc_reply_enhanced(c) == NULL, "reply_enhanced not NULL");
    CHECK(strcmp(smtpc_reply_text(c), "") == 0, "reply_text");
    CHECK(strstr(smtpc_error_message(c), "in progress") != NULL,
          "error_message \"%s\"", smtpc_error_message(c));
    CHECK(smtpc_queue_id(c) == NULL, "queue_id");
    CHECK(smtpc_rejected_count(c) == 0, "rejected_count");
    CHECK(smtpc_batch_count(c) == 0, "batch_count");
    CHECK(smtpc_batch_result(c, 0) == SMTPC_BUSY, "batch_result");
    CHECK(!smtpc_is_connected(c), "is_connected");
    CHECK(!smtpc_has_extension(c, "PIPELINING"), "has_extension");
    /* setters */
    CHECK(smtpc_set_server(c, "192.0.2.1", 2) == SMTPC_BUSY, "set_server");
    CHECK(smtpc_set_transcript(c, NULL, NULL) == SMTPC_BUSY,
          "set_transcript");
    CHECK(smtpc_set_credentials(c, "u", "p") == SMTPC_BUSY,
          "set_credentials");
    CHECK(smtpc_client_reset(c) == SMTPC_BUSY, "client_reset");
    /* actions */
    CHECK(smtpc_noop(c) == SMTPC_BUSY, "noop");
    CHECK(smtpc_rset(c) == SMTPC_BUSY, "rset");
    CHECK(smtpc_connect(c) == SMTPC_BUSY, "connect");
    const char *to[] = {"x@y.test"};
    CHECK(smtpc_send(c, "a@x.test", to, 1, "x", 1) == SMTPC_BUSY, "send");
    CHECK(smtpc_quit(c) == SMTPC_BUSY, "quit");
}

static void on_line(smtpc_direction d, const char *line, void *user_data)
{
    struct nested *n = user_data;
    (void)d;
    if (n->trigger == NULL || strncmp(line, n->trigger, strlen(n->trigger)))
        return;
    if (n->free_on) {
        /* every line from here on frees again: only the first counts */
        smtpc_client_free(n->c);
        n->frees++;
    } else {
        call_everything(n);
    }
}

static ptrdiff_t read_message(void *buf, size_t len, void *user_data)
{
    struct nested *n = user_data;
    if (n->free_on) {
        smtpc_client_free(n->c);
        n->frees++;
    } else {
        call_everything(n);
    }
    size_t left = strlen(n->content) - n->offset;
    if (left > len)
        left = len;
    memcpy(buf, n->content + n->offset, left);
    n->offset += left;
    return (ptrdiff_t)left;
}

static ptrdiff_t give(char *buf, size_t size, bool renew, void *user_data)
{
    struct nested *n = user_data;
    (void)renew;
    if (n->free_on) {
        smtpc_client_free(n->c);
        n->frees++;
    } else {
        call_everything(n);
    }
    if (size < 6)
        return -1;
    memcpy(buf, "secret", 6);
    return 6;
}

static smtpc_client *plain(uint16_t port)
{
    smtpc_client *c = smtpc_client_new();
    smtpc_set_server(c, "127.0.0.1", port);
    smtpc_set_tls(c, SMTPC_TLS_NONE);
    return c;
}

/* MAIL, then RCPT to a recipient the server refuses: the nested calls
 * come while the RCPT is under way, and the refusal must still be the
 * result (no swapped replies). */
static void transcript(uint16_t port, int free_on)
{
    struct nested n = {0};
    n.free_on = free_on;
    smtpc_client *c = n.c = plain(port);
    smtpc_set_transcript(c, on_line, &n);
    CHECK(smtpc_connect(c) == SMTPC_OK, "connect: %s", smtpc_error_message(c));
    CHECK(smtpc_mail(c, "a@x.test") == SMTPC_OK, "mail");
    n.trigger = "RCPT TO:<nobody@";
    smtpc_result r = smtpc_rcpt(c, "nobody@y.test");
    CHECK(r == SMTPC_PERMANENT, "rcpt gave %s", smtpc_result_str(r));
    if (free_on) {
        /* the handle is gone: nothing more may touch it */
        CHECK(n.frees >= 1, "the callback never freed");
        return;
    }
    n.trigger = NULL;
    CHECK(n.calls >= 1, "the callback never ran");
    CHECK(smtpc_reply_code(c) == 550, "reply %d", smtpc_reply_code(c));
    CHECK(strstr(smtpc_error_message(c), "nobody@y.test") != NULL,
          "error \"%s\"", smtpc_error_message(c));
    CHECK(smtpc_is_connected(c), "the session ended");
    CHECK(smtpc_quit(c) == SMTPC_OK, "quit: %s", smtpc_error_message(c));
    smtpc_client_free(c);
}

/* A streamed message whose read callback calls back (or frees): the
 * message must arrive as it was, nothing added to it. */
static void reader(uint16_t port, int free_on)
{
    struct nested n = {0};
    n.free_on = free_on;
    n.content = "Subject: re-entry\r\n\r\nthe content, untouched\r\n";
    smtpc_client *c = n.c = plain(port);
    CHECK(smtpc_connect(c) == SMTPC_OK, "connect: %s", smtpc_error_message(c));
    const char *to[] = {"b@y.test"};
    smtpc_result r = smtpc_send_stream(c, "a@x.test", to, 1, read_message, &n);
    CHECK(r == SMTPC_OK, "send_stream gave %s", smtpc_result_str(r));
    if (free_on) {
        CHECK(n.frees >= 1, "the callback never freed");
        return;
    }
    CHECK(n.calls >= 1, "the callback never ran");
    CHECK(smtpc_reply_code(c) == 250, "reply %d", smtpc_reply_code(c));
    CHECK(strcmp(smtpc_queue_id(c) ? smtpc_queue_id(c) : "", "Q1") == 0,
          "queue id");
    CHECK(smtpc_quit(c) == SMTPC_OK, "quit: %s", smtpc_error_message(c));
    smtpc_client_free(c);
}

/* AUTH PLAIN with the secret from a callback that calls back (or
 * frees): the connect must succeed as if it had not. */
static void credentials(uint16_t port, int free_on)
{
    struct nested n = {0};
    n.free_on = free_on;
    smtpc_client *c = n.c = plain(port);
    smtpc_set_allow_insecure_auth(c, true);
    smtpc_set_auth_mechanisms(c, "PLAIN");
    smtpc_set_credentials_callback(c, "me", give, &n);
    smtpc_result r = smtpc_connect(c);
    CHECK(r == SMTPC_OK, "connect gave %s", smtpc_result_str(r));
    if (free_on) {
        CHECK(n.frees >= 1, "the callback never freed");
        return;
    }
    CHECK(n.calls >= 1, "the callback never ran");
    CHECK(smtpc_reply_code(c) == 220, "reply %d", smtpc_reply_code(c));
    CHECK(smtpc_is_connected(c), "not connected");
    CHECK(smtpc_quit(c) == SMTPC_OK, "quit: %s", smtpc_error_message(c));
    smtpc_client_free(c);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL) {
            fprintf(stderr, "usage: reentry SCENARIO=PORT...\n");
            return 64;
        }
        *eq = '\0';
        current = argv[i];
        uint16_t port = (uint16_t)atoi(eq + 1);
        int before = failures;
        int free_on = strstr(current, "-free") != NULL;
        if (strncmp(current, "transcript", 10) == 0)
            transcript(port, free_on);
        else if (strncmp(current, "read", 4) == 0)
            reader(port, free_on);
        else if (strncmp(current, "credentials", 11) == 0)
            credentials(port, free_on);
        else {
            printf("%s FAIL: unknown scenario\n", current);
            failures++;
        }
        if (failures == before)
            printf("%s ok\n", current);
    }
    return failures ? 1 : 0;
}
