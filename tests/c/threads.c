/*
 * The thread rule: different handles work in parallel. THREADS threads
 * each send MESSAGES messages through a handle of their own.
 *
 *     threads PORT
 *
 * Exits 0 when every message was accepted.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpc.h"

#define THREADS 4
#define MESSAGES 5

static int port;

static void *sender(void *arg)
{
    int id = *(int *)arg, sent = 0;
    char rcpt[64], message[128];
    smtpc_client *c = smtpc_client_new();
    smtpc_result r = smtpc_set_server(c, "127.0.0.1", (uint16_t)port);
    if (r == SMTPC_OK)
        r = smtpc_set_tls(c, SMTPC_TLS_NONE);
    if (r == SMTPC_OK)
        r = smtpc_connect(c);
    for (int i = 0; r == SMTPC_OK && i < MESSAGES; i++) {
        snprintf(rcpt, sizeof rcpt, "t%d-m%d@y.test", id, i);
        snprintf(message, sizeof message, "Subject: thread %d message %d\r\n\r\nbody\r\n", id, i);
        const char *to[] = {rcpt};
        r = smtpc_send(c, "threads@x.test", to, 1, message, strlen(message));
        if (r == SMTPC_OK)
            sent++;
    }
    if (r != SMTPC_OK)
        fprintf(stderr, "thread %d: %s: %s\n", id, smtpc_result_str(r), smtpc_error_message(c));
    smtpc_quit(c);
    smtpc_client_free(c);
    return (void *)(sent == MESSAGES ? "ok" : NULL);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    port = atoi(argv[1]);
    pthread_t threads[THREADS];
    int ids[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ids[i] = i;
        if (pthread_create(&threads[i], NULL, sender, &ids[i]) != 0)
            return 1;
    }
    int failed = 0;
    for (int i = 0; i < THREADS; i++) {
        void *result;
        pthread_join(threads[i], &result);
        failed += result == NULL;
    }
    printf("threads: %d of %d failed\n", failed, THREADS);
    return failed ? 1 : 0;
}
