import ArgumentParser
import Coordinator
import Foundation
import Wire

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make and inspect the CURVE keys that authenticate workers and the coordinator.",
        discussion: """
            A farm on a network uses CURVE (ZeroMQ's public-key encryption and authentication):
              reel keys generate --name coordinator --out keys       # on the coordinator
              reel keys generate --name worker-1 --out keys          # for each worker (or one shared)
              reel coordinator --key keys/coordinator.key --authorized-keys authorized/   # holds worker-1.pub
              reel worker --connect tcp://HOST:5555 --key keys/worker-1.key --coordinator-key keys/coordinator.pub
            Secret keys (.key) stay where they are used; public keys (.pub) are shared.
            """,
        subcommands: [Generate.self, Show.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new key pair: NAME.key (secret, mode 0600) and NAME.pub (public).")

        @Option(help: "Name of the key files.")
        var name = "reel"

        @Option(help: "Folder to write them into (created if missing).")
        var out = "."

        func validate() throws {
            guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }),
                  !name.hasPrefix(".") else {
                throw ValidationError("--name may use letters, digits, '.', '_' and '-' (at most 64), not starting with '.'")
            }
        }

        func run() throws {
            do {
                let pair = try CurveKeyPair.generate()
                let files = try pair.write(to: URL(fileURLWithPath: out), name: name)
                print("wrote \(files.secret.path) (secret: keep it private)")
                print("wrote \(files.public.path) (public key \(pair.publicKey))")
            } catch { throw UserError(error.description) }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the public key held in a .key or .pub file.")

        @Argument(help: "Key file.")
        var file: String

        func run() throws {
            do { print(try CurveKeyPair.loadPublicKey(URL(fileURLWithPath: file))) } catch { throw UserError(error.description) }
        }
    }
}

/// CURVE options of `reel coordinator`.
struct CoordinatorSecurityOptions: ParsableArguments {
    @Option(help: "The coordinator's secret key file (from `reel keys generate`); turns on CURVE.")
    var key: String?

    @Option(help: "Folder of worker public keys (one .pub per file) allowed to connect; read again when an unknown key knocks.")
    var authorizedKeys: String?

    @Flag(help: "Accept workers over plain, unauthenticated TCP on a non-loopback --bind. Only on a network you trust.")
    var insecure = false

    /// The CURVE settings for `bind`, or nil for plain TCP; one clear sentence when the mix is wrong.
    func curve(bind: String) throws -> Coordinator.CurveServerSettings? {
        if key != nil || authorizedKeys != nil {
            guard let key, let authorizedKeys else {
                throw ValidationError("CURVE needs both --key (the coordinator's .key file) and --authorized-keys (a folder of worker .pub files)")
            }
            if insecure { throw ValidationError("--insecure turns authentication off; do not combine it with --key/--authorized-keys") }
            do {
                return .init(keys: try CurveKeyPair.load(secretFile: URL(fileURLWithPath: key)), authorizedKeys: URL(fileURLWithPath: authorizedKeys))
            } catch { throw ValidationError(error.description) }
        }
        if !isLoopbackEndpoint(bind) && !insecure {
            throw ValidationError("--bind \(bind) accepts workers from other machines, so they must authenticate: pass --key FILE and --authorized-keys DIR (make keys with `reel keys generate`), or --insecure for plain TCP on a trusted network")
        }
        return nil
    }
}

/// CURVE options of `reel worker`.
struct WorkerSecurityOptions: ParsableArguments {
    @Option(help: "This worker's secret key file (from `reel keys generate`); its .pub must be in the coordinator's --authorized-keys.")
    var key: String?

    @Option(help: "The coordinator's public key file (its .pub).")
    var coordinatorKey: String?

    @Flag(help: "Connect over plain, unauthenticated TCP to a coordinator on another machine. Only on a network you trust.")
    var insecure = false

    func curve(connect: String) throws -> CurveClientKeys? {
        if key != nil || coordinatorKey != nil {
            guard let key, let coordinatorKey else {
                throw ValidationError("CURVE needs both --key (this worker's .key file) and --coordinator-key (the coordinator's .pub file)")
            }
            if insecure { throw ValidationError("--insecure turns authentication off; do not combine it with --key/--coordinator-key") }
            do {
                return CurveClientKeys(own: try CurveKeyPair.load(secretFile: URL(fileURLWithPath: key)),
                                       serverPublicKey: try CurveKeyPair.loadPublicKey(URL(fileURLWithPath: coordinatorKey)))
            } catch { throw ValidationError(error.description) }
        }
        if !isLoopbackEndpoint(connect) && !insecure {
            throw ValidationError("--connect \(connect) is another machine, so the connection must be authenticated: pass --key FILE and --coordinator-key FILE (see `reel keys --help`), or --insecure for plain TCP on a trusted network")
        }
        return nil
    }
}
