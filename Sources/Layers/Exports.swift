@_exported import AutoGrad
