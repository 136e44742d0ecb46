import Foundation

/// Why a training text cannot be used; each prints as one line saying how to fix it.
enum CorpusError: Error, CustomStringConvertible {
    case missing(String)
    case unreadable(String, reason: String)
    case empty(String)
    case binary(String, offset: Int)
    case notUTF8(String)
    case tooShort(String, characters: Int, needed: Int)

    var description: String {
        switch self {
        case let .missing(path): return "data file '\(path)' does not exist; pass --data with a UTF-8 text file"
        case let .unreadable(path, reason): return "cannot read data file '\(path)': \(reason)"
        case let .empty(path): return "data file '\(path)' is empty; pass --data with some UTF-8 text"
        case let .binary(path, offset): return "data file '\(path)' looks binary (NUL byte at offset \(offset)); pass a UTF-8 text file"
        case let .notUTF8(path): return "data file '\(path)' is not valid UTF-8; convert it (e.g. iconv -t UTF-8) or pass another file"
        case let .tooShort(path, characters, needed):
            return "data file '\(path)' has \(characters) characters; this configuration needs at least \(needed) (lower --batch or --seq-len, or use more text)"
        }
    }
}

/// The training text: where it came from, and the text itself.
struct Corpus {
    let source: String
    let text: String

    /// A UTF-8 text file, validated.
    static func load(path: String) throws(CorpusError) -> Corpus {
        guard FileManager.default.fileExists(atPath: path) else { throw .missing(path) }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadable(path, reason: error.localizedDescription)
        }
        guard !data.isEmpty else { throw .empty(path) }
        if let offset = data.firstIndex(of: 0) { throw .binary(path, offset: offset - data.startIndex) }
        guard let text = String(validating: data, as: UTF8.self) else { throw .notUTF8(path) }
        return Corpus(source: path, text: text)
    }

    /// The package's own Swift sources and docs, read from the repository this program was
    /// built from (a char-level model trained on source code, as Karpathy did).
    static func packageSources() throws(CorpusError) -> Corpus {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let folders = ["Sources", "Docs", "Tests"].map { root.appendingPathComponent($0) }
        var files: [URL] = [root.appendingPathComponent("README.md")]
        for folder in folders {
            let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)
            while let file = walker?.nextObject() as? URL {
                if ["swift", "md"].contains(file.pathExtension) { files.append(file) }
            }
        }
        let texts = files.sorted { $0.path < $1.path }.compactMap { try? String(contentsOf: $0, encoding: .utf8) }
        let text = texts.joined(separator: "\n")
        guard !text.isEmpty else { throw .missing(root.appendingPathComponent("Sources").path) }
        return Corpus(source: "package sources (\(texts.count) files in \(root.path))", text: text)
    }
}

/// The characters a model knows, in a fixed order (sorted), and their ids.
struct Vocabulary: Equatable {
    let symbols: [Unicode.Scalar]
    private let ids: [Unicode.Scalar: Int]

    init<S: Sequence>(of text: S) where S.Element == Unicode.Scalar {
        self.init(symbols: Set(text).sorted())
    }

    init(symbols: [Unicode.Scalar]) {
        self.symbols = symbols
        ids = Dictionary(uniqueKeysWithValues: symbols.enumerated().map { ($1, $0) })
    }

    var count: Int { symbols.count }

    /// The ids of `text`'s characters, or the first character the vocabulary lacks.
    func encode(_ text: String) -> Result<[Int], UnknownCharacter> {
        var result: [Int] = []
        for scalar in text.unicodeScalars {
            guard let id = ids[scalar] else { return .failure(UnknownCharacter(scalar: scalar)) }
            result.append(id)
        }
        return .success(result)
    }

    func decode(_ ids: [Int]) -> String {
        var text = String.UnicodeScalarView()
        text.append(contentsOf: ids.map { symbols[$0] })
        return String(text)
    }

    /// The vocabulary as one string, for checkpoints.
    var serialized: String { String(String.UnicodeScalarView(symbols)) }

    struct UnknownCharacter: Error { let scalar: Unicode.Scalar }
}
