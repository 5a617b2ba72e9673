/* unit.h - what every t/unit/check_<module>.c provides to unit_main.c.
 *
 * Each check file builds its Suite and exports it as unit_suite();
 * unit_main.c (linked into every unit binary) runs it in Check's fork
 * mode (the default; CK_FORK=no in the environment turns it off for a
 * debugger) and turns failures into the exit status.
 */
#ifndef PROCONSUL_UNIT_H
#define PROCONSUL_UNIT_H

#include <check.h>

Suite *unit_suite(void);

#endif
