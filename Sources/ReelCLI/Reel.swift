import ArgumentParser
import Foundation
import Stitcher

@main
struct Reel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reel",
        abstract: "Reel: minute-long text-to-video on a farm of ordinary Linux machines.",
        discussion: """
            Reel plans a long video into overlapping segments tied by shared latent anchors, renders \
            them on workers over ZeroMQ and stitches the result into an MP4.
              reel render "a red ball bounces on green grass" --duration 60 --out film.mp4
            On a farm: `reel coordinator` on one machine, `reel worker --connect tcp://HOST:5555` on \
            many, `reel submit … --wait` from anywhere. Run scripts/setup.sh once to install what Reel needs.
            """,
        version: ReelVersion.current,
        subcommands: [RenderCommand.self, SubmitCommand.self, StatusCommand.self, CancelCommand.self, RetryCommand.self,
                      CoordinatorCommand.self, WorkerCommand.self, KeysCommand.self, GenerateCommand.self, EvalCommand.self, EvalSetCommand.self, EmbedCommand.self, BenchCommand.self]
    )

    /// Expands `--config FILE` (coordinator, worker) into options before the usual parsing.
    static func main() async {
        let arguments: [String]
        do { arguments = try ConfigFile.expand(Array(CommandLine.arguments.dropFirst())) } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            Foundation.exit(1)
        }
        await main(arguments)
    }
}

/// A mistake the user can fix: printed as one sentence, exit status 1, no stack trace.
struct UserError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
