/// What went wrong on the command line; each case prints as one line saying how to fix it.
enum UsageError: Error, CustomStringConvertible, Equatable {
    case unknownFlag(String, command: String)
    case missingValue(String)
    case malformedValue(flag: String, value: String, expected: String)
    case unknownCommand(String)

    var description: String {
        switch self {
        case let .unknownFlag(flag, command):
            return "unknown flag '\(flag)' for 'charlm \(command)'; run 'charlm --help' for the list"
        case let .missingValue(flag):
            return "flag '\(flag)' needs a value, e.g. '\(flag) 128'"
        case let .malformedValue(flag, value, expected):
            return "flag '\(flag)' got '\(value)', expected \(expected)"
        case let .unknownCommand(command):
            return "unknown command '\(command)'; use 'charlm train' (the default) or 'charlm sample'"
        }
    }
}

/// Parses `--flag value` pairs (and bare `--switch`es) against the flags a command accepts.
struct FlagParser {
    private var values: [String: String] = [:]
    private var switches: Set<String> = []

    /// - Parameters:
    ///   - valued: flags that take a value.
    ///   - switches: flags that take none.
    init(_ arguments: [String], command: String, valued: Set<String>, switches allowed: Set<String>) throws(UsageError) {
        var index = 0
        while index < arguments.count {
            let flag = arguments[index]
            if allowed.contains(flag) {
                switches.insert(flag)
            } else if valued.contains(flag) {
                guard index + 1 < arguments.count, !arguments[index + 1].hasPrefix("--") else { throw .missingValue(flag) }
                values[flag] = arguments[index + 1]
                index += 1
            } else {
                throw .unknownFlag(flag, command: command)
            }
            index += 1
        }
    }

    func has(_ flag: String) -> Bool { switches.contains(flag) }

    func string(_ flag: String) -> String? { values[flag] }

    func int(_ flag: String, default fallback: Int, range: ClosedRange<Int> = 1...Int.max) throws(UsageError) -> Int {
        guard let text = values[flag] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw .malformedValue(flag: flag, value: text, expected: "a whole number in \(range.lowerBound)...\(range.upperBound == Int.max ? "" : String(range.upperBound))")
        }
        return value
    }

    func double(_ flag: String, default fallback: Double, range: ClosedRange<Double>) throws(UsageError) -> Double {
        guard let text = values[flag] else { return fallback }
        guard let value = Double(text), value.isFinite, range.contains(value) else {
            throw .malformedValue(flag: flag, value: text, expected: "a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    func choice<T: RawRepresentable>(_ flag: String, default fallback: T) throws(UsageError) -> T
    where T.RawValue == String, T: CaseIterable {
        guard let text = values[flag] else { return fallback }
        guard let value = T(rawValue: text) else {
            throw .malformedValue(flag: flag, value: text, expected: "one of " + T.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return value
    }
}
