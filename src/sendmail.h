/*
 * sendmail - the front end: options, configuration, modes (-bm -bp -bv -bi
 * -q), and the one place that turns an outcome into an exit status
 * (sysexits.h, SPEC "Exit codes").
 */
#ifndef RELAYMAIL_SENDMAIL_H
#define RELAYMAIL_SENDMAIL_H

#include "options.h"

/* sendmail_main - run the program as sendmail, mailq or newaliases (mode) */
int sendmail_main(int argc, char **argv, enum options_mode mode);

#endif
