/* main - dispatch on the name the program was called by; nothing else */
#include <string.h>

#include "sendmail.h"

/* main - sendmail, mailq or newaliases */
int main(int argc, char **argv)
{
	const char *name = argc > 0 && argv[0] != NULL ? argv[0] : "sendmail";
	const char *slash = strrchr(name, '/');
	if (slash != NULL)
		name = slash + 1;
	enum options_mode mode = OPTIONS_DELIVER;
	if (strcmp(name, "mailq") == 0)
		mode = OPTIONS_LIST;
	else if (strcmp(name, "newaliases") == 0)
		mode = OPTIONS_NEWALIASES;
	return sendmail_main(argc, argv, mode);
}
