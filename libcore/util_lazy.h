/* util_lazy.h - libcurl and libarchive are loaded on first use.
 *
 * Callers use <curl/curl.h> and <archive.h> as usual; util_lazy.c
 * defines every entry point libcore calls and loads the library on the
 * first call. A new libcurl or libarchive function must be added there
 * (the link fails otherwise: the binary does not link either library).
 */
#ifndef PROCONSUL_UTIL_LAZY_H
#define PROCONSUL_UTIL_LAZY_H

#include <stdbool.h>

enum util_lazy_lib { UTIL_LAZY_LIB_CURL, UTIL_LAZY_LIB_ARCHIVE };

/* Whether lib has been loaded into this process (for tests). */
bool util_lazy_loaded(enum util_lazy_lib lib);

#endif
