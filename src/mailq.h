/*
 * mailq - list the queue the way Postfix's mailq does (so that monitoring
 * such as check_mailq -M postfix reads it), or as JSON lines like
 * postqueue -j.
 */
#ifndef RELAYMAIL_MAILQ_H
#define RELAYMAIL_MAILQ_H

#include <stdbool.h>
#include <stdio.h>

#include "queue.h"

/* mailq_print - write the listing to out; 0, or -1 with err */
int mailq_print(struct queue *q, FILE *out, bool json, char *err, size_t errlen);

#endif
