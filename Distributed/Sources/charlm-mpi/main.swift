import AutoGrad
import CharLM
import DataParallel
import Foundation

// charlm-mpi: the char-LM trainer under MPI. `mpirun -np N charlm-mpi [charlm flags]` trains
// data-parallel: each process reads its share of the --batch streams, gradients are averaged
// over all processes before every optimizer step, rank 0 prints and writes the checkpoints
// (the same file one process writes, so --resume works with any N).

extension DataParallelGroup: TrainingGroup {}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("charlm-mpi: error: \(message)\n".utf8))
    exit(1)
}

let communicator: Communicator
do { communicator = try Communicator() } catch { fail("\(error)") }
// The processes on this machine share its cores instead of each taking all of them.
let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
ComputeThreads.maximum = max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, local))
if communicator.rank != 0 { dup2(open("/dev/null", O_WRONLY), STDOUT_FILENO) }  // one process reports

do {
    try runCharLM(Array(CommandLine.arguments.dropFirst()), group: DataParallelGroup(communicator: communicator))
} catch {
    // Exiting with a failure status makes mpirun end the other processes (no hang); MPI
    // errors come with the call that failed.
    fail(communicator.size > 1 ? "(rank \(communicator.rank) of \(communicator.size)) \(error)" : "\(error)")
}
communicator.finalize()
