/* The C tests' checks: each CHECK counts, a failed one prints where and why and
 * the test goes on, so one run lists every failure. A test's main prints
 * `checks` and `failures` and returns failures != 0. */
#ifndef DL_TESTS_CHECK_H
#define DL_TESTS_CHECK_H
#include <stdio.h>
#include <string.h>

static int checks, failures;

#define CHECK(cond, ...) do { checks++; if (!(cond)) { failures++; \
    printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); printf(__VA_ARGS__); printf("\n"); } } while (0)
/* err must be non-NULL and contain `part`. */
#define CHECK_ERR(err, part) do { const char *e_ = (err); \
    CHECK(e_ && strstr(e_, part), "expected error containing \"%s\", got \"%s\"", part, e_ ? e_ : "(success)"); } while (0)
#define CHECK_OK(err) do { const char *e_ = (err); CHECK(!e_, "unexpected error: %s", e_); } while (0)
#endif
