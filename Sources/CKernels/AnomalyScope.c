// Anomaly mode's per-thread switch: the innermost detection scope (an opaque Swift object),
// or NULL when off. One thread-local load is all apply() and the backward walk pay when off.
#include "CKernels.h"

static _Thread_local void *anomaly_scope = 0;

void *ag_anomaly_scope(void) { return anomaly_scope; }

void *ag_set_anomaly_scope(void *scope) {
    void *previous = anomaly_scope;
    anomaly_scope = scope;
    return previous;
}
