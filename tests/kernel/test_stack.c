#include "testutil.h"
Test(placeholder, stack) { cr_assert(1); }
