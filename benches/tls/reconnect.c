/*
 * reconnect: what a long-running program pays per connection: connect,
 * STARTTLS, AUTH PLAIN, one 1 KiB message, QUIT, N times, on one handle
 * or on a new handle each time. Prints CPU time (getrusage: user +
 * system, this process alone) and wall time of the first connection, and
 * per connection of the others.
 *
 *     reconnect HOST PORT N one|many verify|noverify|plain [CA_FILE]
 *
 * verify:   certificates checked; with CA_FILE (smtpc_set_ca_file) the
 *           system's roots are off, without it they are the roots
 *           (SSL_CERT_FILE may point at a bundle holding the test CA)
 * noverify: smtpc_set_danger_accept_invalid_certs, no roots given: the
 *           handshake without chain checks (a reference)
 * plain:    no TLS and no AUTH (the SMTP session alone, a reference)
 * SMTPC_USER / SMTPC_PASSWORD: the credentials (not with plain).
 * TAKE_OVER=1: smtpc_take_over_system_roots() first (the system's bundle
 * parsed once by smtpc when trusted, not at all otherwise).
 *
 * Output, tab-separated: shape mode roots N first_cpu_ms first_wall_ms
 * cpu_ms_per_later_connection wall_ms_per_later_connection
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "smtpc.h"

static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static double wall_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int fail(smtpc_client *c, const char *what)
{
    fprintf(stderr, "reconnect: %s: %s\n", what, smtpc_error_message(c));
    return 1;
}

static int setup(smtpc_client *c, const char *host, int port, const char *mode, const char *ca)
{
    if (smtpc_set_server(c, host, (uint16_t)port) != SMTPC_OK ||
        smtpc_set_helo_name(c, "bench.local") != SMTPC_OK)
        return fail(c, "options");
    if (strcmp(mode, "plain") == 0)
        return smtpc_set_tls(c, SMTPC_TLS_NONE) == SMTPC_OK ? 0 : fail(c, "tls");
    const char *user = getenv("SMTPC_USER"), *password = getenv("SMTPC_PASSWORD");
    if (!user || !password || smtpc_set_credentials(c, user, password) != SMTPC_OK)
        return fail(c, "credentials (SMTPC_USER, SMTPC_PASSWORD)");
    if (strcmp(mode, "noverify") == 0)
        return smtpc_set_danger_accept_invalid_certs(c, true) == SMTPC_OK ? 0 : fail(c, "noverify");
    if (ca && smtpc_set_ca_file(c, ca) != SMTPC_OK)
        return fail(c, "ca file");
    if (ca && smtpc_set_system_roots(c, false) != SMTPC_OK)
        return fail(c, "system roots");
    return 0;
}

static int session(smtpc_client *c, const char *msg, size_t len)
{
    static const char *const to[] = {"rcpt@bench.test"};
    if (smtpc_connect(c) != SMTPC_OK)
        return fail(c, "connect");
    if (smtpc_send(c, "sender@bench.test", to, 1, msg, len) != SMTPC_OK)
        return fail(c, "send");
    if (smtpc_quit(c) != SMTPC_OK)
        return fail(c, "quit");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 6 || argc > 7) {
        fprintf(stderr, "usage: reconnect HOST PORT N one|many verify|noverify|plain [CA_FILE]\n");
        return 2;
    }
    const char *take_over = getenv("TAKE_OVER");
    if (take_over && strcmp(take_over, "1") == 0 && !smtpc_take_over_system_roots()) {
        fprintf(stderr, "reconnect: smtpc_take_over_system_roots failed\n");
        return 1;
    }
    const char *host = argv[1], *shape = argv[4], *mode = argv[5];
    int port = atoi(argv[2]), n = atoi(argv[3]);
    const char *ca = argc == 7 ? argv[6] : NULL;
    if (port < 1 || port > 65535 || n < 2 || n > 100000) {
        fprintf(stderr, "reconnect: bad port or N (2 or more)\n");
        return 2;
    }
    char msg[1024];
    int at = snprintf(msg, sizeof msg, "From: sender@bench.test\r\nTo: rcpt@bench.test\r\nSubject: bench\r\n\r\n");
    for (; at < (int)sizeof msg; at++)
        msg[at] = at % 64 == 62 ? '\r' : at % 64 == 63 ? '\n' : 'x';
    msg[sizeof msg - 2] = '\r';
    msg[sizeof msg - 1] = '\n';

    /* The first connection apart: it pays for loading OpenSSL and for
     * building the TLS connector; the others show what a reconnect costs. */
    double cpu0 = cpu_seconds(), wall0 = wall_seconds(), cpu1 = 0, wall1 = 0;
    smtpc_client *kept = NULL;
    for (int i = 0; i < n; i++) {
        smtpc_client *c = kept;
        if (!c) {
            c = smtpc_client_new();
            if (!c || setup(c, host, port, mode, ca))
                return 1;
        }
        if (session(c, msg, sizeof msg))
            return 1;
        if (strcmp(shape, "one") == 0)
            kept = c;
        else
            smtpc_client_free(c);
        if (i == 0) {
            cpu1 = cpu_seconds();
            wall1 = wall_seconds();
        }
    }
    if (kept)
        smtpc_client_free(kept);
    double cpu2 = cpu_seconds(), wall2 = wall_seconds();
    printf("%s\t%s\t%s%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\n", shape, mode, ca ? "ca_file" : "system",
           take_over ? " (taken over)" : "", n,
           (cpu1 - cpu0) * 1e3, (wall1 - wall0) * 1e3, (cpu2 - cpu1) * 1e3 / (n - 1),
           (wall2 - wall1) * 1e3 / (n - 1));
    return 0;
}
