/* error.h — reasons with numbers in them. Functions of models/ return NULL on
 * success or a reason string; a formatted one lives in a per-thread buffer
 * that stays valid until the next formatted reason on that thread. */
#ifndef DENSELAB_ERROR_H
#define DENSELAB_ERROR_H

const char *dl_errorf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
