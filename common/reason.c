/* reason.c — see reason.h. */
#include "common/reason.h"
#include <stdarg.h>
#include <stdio.h>

const char DL_CANCELLED[] = "cancelled";

const char *dl_errorf(const char *fmt, ...) {
    static _Thread_local char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return reason;
}
