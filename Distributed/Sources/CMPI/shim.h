// The MPI C API for Swift. Open MPI defines its predefined handles (MPI_COMM_WORLD,
// MPI_DOUBLE, MPI_SUM, MPI_IN_PLACE, ...) as macros that cast addresses, which Swift cannot
// import; these inline functions return them.
#include <mpi.h>

static inline MPI_Comm agmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype agmpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype agmpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype agmpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Op agmpi_sum(void) { return MPI_SUM; }
static inline void *agmpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler agmpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Request agmpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *agmpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
