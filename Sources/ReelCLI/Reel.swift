import ArgumentParser

@main
struct Reel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reel",
        abstract: "Reel: minute-long text-to-video on a farm of ordinary Linux machines.",
        version: "0.1.0",
        subcommands: []
    )
}
