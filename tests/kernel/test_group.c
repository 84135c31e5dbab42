#include "testutil.h"
Test(placeholder, group) { cr_assert(1); }
