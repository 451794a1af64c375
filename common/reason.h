/* reason.h — errors are reasons. Every C function of DenseLab that can fail
 * returns NULL on success or a reason string. Constant reasons are string
 * literals; reasons with numbers in them come from dl_errorf, whose result
 * lives in one per-thread buffer, valid until the next dl_errorf on that
 * thread (copy it if you need it longer). */
#ifndef DENSELAB_REASON_H
#define DENSELAB_REASON_H

const char *dl_errorf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* The reason a cancelled job returns (compare by pointer). */
extern const char DL_CANCELLED[];

#endif
