import ArgumentParser

@main
struct Reel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reel",
        abstract: "Reel: minute-long text-to-video on a farm of ordinary Linux machines.",
        discussion: """
            Reel plans a long video into overlapping segments, renders them on workers over ZeroMQ \
            and stitches the result into an MP4. This build has the foundation: the text encoder, \
            the tensor kernels and the MP4 writer. Run scripts/setup.sh once to install what Reel needs.
            """,
        version: ReelVersion.current,
        subcommands: [GenerateCommand.self, EvalCommand.self, EvalSetCommand.self, EmbedCommand.self, BenchCommand.self]
    )
}

enum ReelVersion {
    static let current = "0.1.0"
}

/// A mistake the user can fix: printed as one sentence, exit status 1, no stack trace.
struct UserError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
