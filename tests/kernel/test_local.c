#include "testutil.h"
Test(placeholder, local) { cr_assert(1); }
