import Foundation
import Hummingbird
import Logging

/// The coordinator's HTTP/JSON API for clients (`reel submit/status/cancel`, scripts, the
/// dashboard). Described in `openapi.yaml`, served at `/openapi.yaml`.
public enum FarmAPI {
    /// Largest request body: a job spec with a base64 soundtrack.
    public static let maxBodyBytes = JobSpec.maxSoundtrackBytes * 4 / 3 + (1 << 20)

    public static func application(coordinator: Coordinator, host: String, port: Int, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: StartupGate(coordinator: coordinator))
        router.get("healthz") { _, _ in "ok\n" }
        router.get("openapi.yaml") { _, _ -> Response in
            guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
                  let data = FileManager.default.contents(atPath: url.path) else { return FarmAPI.error(.notFound, "the OpenAPI document is missing from this build") }
            return Response(status: .ok, headers: [.contentType: "application/yaml"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("v1/jobs") { _, _ -> Response in
            var jobs = coordinator.snapshot.jobs
            for i in jobs.indices { jobs[i].segments = [] }
            return json(["jobs": jobs])
        }
        router.post("v1/jobs") { request, _ -> Response in
            var request = request
            let body: ByteBuffer
            do { body = try await request.collectBody(upTo: maxBodyBytes) } catch {
                return FarmAPI.error(.contentTooLarge, "the request body is larger than \(maxBodyBytes >> 20) MiB")
            }
            let spec: JobSpec
            do { spec = try JSONDecoder().decode(JobSpec.self, from: Data(buffer: body)) } catch {
                return FarmAPI.error(.badRequest, "the body is not a job: \(describe(error)); see /openapi.yaml")
            }
            do {
                let id = try await coordinator.submit(spec)
                return json(["id": id], status: .created)
            } catch {
                return FarmAPI.error(.badRequest, "\(error)")
            }
        }
        router.get("v1/jobs/:id") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            guard let job = coordinator.snapshot.jobs.first(where: { $0.id == id }) else { return FarmAPI.error(.notFound, "no job \(id.prefix(80))") }
            return json(job)
        }
        router.post("v1/jobs/:id/cancel") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            do { try await coordinator.cancel(id) } catch { return FarmAPI.error(.notFound, "\(error)") }
            return json(["id": id, "state": "cancelled"])
        }
        router.get("v1/jobs/:id/film") { _, context -> Response in
            try filmResponse(coordinator: coordinator, id: context.parameters.get("id") ?? "", preview: false)
        }
        router.get("v1/jobs/:id/preview") { _, context -> Response in
            try filmResponse(coordinator: coordinator, id: context.parameters.get("id") ?? "", preview: true)
        }
        router.get("metrics") { _, _ -> Response in
            let text = coordinator.metrics.exposition(of: coordinator.snapshot)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        // The dashboard: static HTML/CSS/JS shipped in the bundle (REEL_DASHBOARD_DIR serves a
        // working copy instead, for editing it without rebuilding). It reads /v1/farm.
        router.get("/") { _, _ -> Response in
            Response(status: .seeOther, headers: [.location: "/dashboard/"])
        }
        router.get("dashboard") { _, _ -> Response in dashboardFile("index.html") }   // also /dashboard/
        router.get("dashboard/:file") { _, context -> Response in dashboardFile(context.parameters.get("file") ?? "") }
        router.post("v1/jobs/:id/retry") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            do { try await coordinator.retry(id); return json(["id": id]) } catch { return FarmAPI.error(.conflict, "\(error)") }
        }
        router.get("v1/workers") { _, _ -> Response in json(["workers": coordinator.snapshot.workers]) }
        router.get("v1/farm") { _, _ -> Response in json(coordinator.snapshot) }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "reel"), logger: logger)
    }

    static func dashboardFile(_ name: String) -> Response {
        guard !name.isEmpty, name.count <= 64, !name.hasPrefix("."),
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            return FarmAPI.error(.notFound, "no such dashboard file")
        }
        let folder = ProcessInfo.processInfo.environment["REEL_DASHBOARD_DIR"].map { URL(fileURLWithPath: $0) }
            ?? Bundle.module.url(forResource: "dashboard", withExtension: nil)
        guard let url = folder?.appendingPathComponent(name), let data = FileManager.default.contents(atPath: url.path) else {
            return FarmAPI.error(.notFound, "no dashboard file \(name)")
        }
        let types = ["html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8",
                     "svg": "image/svg+xml", "png": "image/png", "ico": "image/x-icon"]
        let type = types[url.pathExtension] ?? "application/octet-stream"
        return Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    private static func filmResponse(coordinator: Coordinator, id: String, preview: Bool) throws -> Response {
        guard let job = coordinator.snapshot.jobs.first(where: { $0.id == id }) else { return FarmAPI.error(.notFound, "no job \(id.prefix(80))") }
        guard let url = preview ? coordinator.preview(of: id) : coordinator.film(of: id),
              let data = FileManager.default.contents(atPath: url.path) else {
            return FarmAPI.error(.conflict, preview ? "job \(id) has no preview yet" : "job \(id) is \(job.state.rawValue); the film is not ready")
        }
        return Response(status: .ok, headers: [.contentType: "video/mp4", .contentDisposition: "inline; filename=\"\(id).mp4\""],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(["error": message], status: status)
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "the field \"\(key.stringValue)\" is missing"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "the field \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type"
        case DecodingError.dataCorrupted(let context):
            return context.codingPath.isEmpty ? "it is not valid JSON" : "the field \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" is invalid"
        default: return "\(error)"
        }
    }
}

/// Until the coordinator has restored its journal, API calls get 503 (clients retry) rather than
/// an empty, misleading answer such as "no such job".
struct StartupGate<Context: RequestContext>: RouterMiddleware {
    let coordinator: Coordinator
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard coordinator.isReady || !request.uri.path.hasPrefix("/v1/") else {
            return FarmAPI.error(.serviceUnavailable, "the coordinator is starting (restoring its journal); retry in a moment")
        }
        return try await next(request, context)
    }
}

extension Data {
    init(buffer: ByteBuffer) {
        var buffer = buffer
        self = buffer.readBytes(length: buffer.readableBytes).map { Data($0) } ?? Data()
    }
}
