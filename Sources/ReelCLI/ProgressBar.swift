import Foundation

/// Progress of long work: a redrawn bar with ETA on a terminal, plain lines otherwise (logs, CI).
final class ProgressBar {
    let label: String
    let total: Int
    private let start = Date()
    private let interactive = isatty(STDERR_FILENO) != 0
    private var lastLine = Date.distantPast

    init(label: String, total: Int) {
        self.label = label
        self.total = total
    }

    func update(_ done: Int) {
        let elapsed = Date().timeIntervalSince(start)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        if interactive {
            let width = 30, filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            FileHandle.standardError.write(Data(String(format: "\r%@ %@ %d/%d  %.1fs elapsed, ETA %.1fs ", label, bar, done, total, elapsed, eta).utf8))
            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else if done == total || Date().timeIntervalSince(lastLine) > 2 {
            lastLine = Date()
            FileHandle.standardError.write(Data(String(format: "%@: %d/%d (%.1fs elapsed)\n", label, done, total, elapsed).utf8))
        }
    }
}
