/* Held exceptions: the calls running on this thread that were passed a
 * callback.  Until argument conversion pushes scopes, no call holds one. */
#include "callbacks/callback.h"

int callback_scope_hold(CallbackObject *cb)
{
    (void)cb;
    return 0;
}
