package proxy

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Log field names, declared once so every line spells them the same.
const (
	logRequestID = "request_id"
	logSite      = "site"
	logKeyID     = "key_id"
	logRoute     = "route"
	logMethod    = "method"
	logStatus    = "status"
	logDecision  = "decision"
	logCode      = "code"
	logDuration  = "duration_ms"
	logBank      = "bank"
	logPayment   = "payment_id"
	logCause     = "cause"
	logRemote    = "remote_ip"
	logBankMS    = "bank_ms"
)

// canonicalLine is the message of the one line logged per request.
const canonicalLine = "request"

// NewLogger builds the relay's JSON logger at the given level writing to
// stderr. Sampling is off: the canonical line of every request is kept.
func NewLogger(level string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.Set(level); err != nil {
		return nil, err
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enc.TimeKey = "ts"
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(os.Stderr), lvl)
	return zap.New(core, zap.ErrorOutput(zapcore.Lock(os.Stderr))), nil
}

// reqState collects what the canonical line says about one request.
type reqState struct {
	id       string
	start    time.Time
	route    string // route pattern, never the raw path (paths hold tokens)
	site     string
	keyID    string
	bank     string
	payment  string
	decision string // what the relay decided, e.g. "authenticated", "created", "callback_verified"
	code     string // error code answered, if any
	cause    error  // logged cause of an error (never sent to the client)
	bankTime time.Duration
}

func (r *Relay) logRequest(ctx *fasthttp.RequestCtx, rs *reqState) {
	status := ctx.Response.StatusCode()
	elapsed := r.now().Sub(rs.start)
	class := string(rune('0'+status/100)) + "xx"
	r.metrics.inc("posrelay_requests_total", "route", rs.route, "status", class)
	r.metrics.add(elapsed.Milliseconds(), "posrelay_request_duration_ms_total", "route", rs.route)
	if strings.HasPrefix(rs.code, "callback_") && rs.code != "callback_replayed" {
		r.metrics.inc("posrelay_callbacks_rejected_total", "code", rs.code)
	}
	fields := make([]zap.Field, 0, 14)
	fields = append(fields,
		zap.String(logRequestID, rs.id),
		zap.String(logMethod, string(ctx.Method())),
		zap.String(logRoute, rs.route),
		zap.Int(logStatus, status),
		zap.Float64(logDuration, float64(elapsed.Microseconds())/1000),
		zap.String(logRemote, r.clientIP(ctx).String()),
	)
	if rs.site != "" {
		fields = append(fields, zap.String(logSite, rs.site))
	}
	if rs.keyID != "" {
		fields = append(fields, zap.String(logKeyID, rs.keyID))
	}
	if rs.bank != "" {
		fields = append(fields, zap.String(logBank, rs.bank))
	}
	if rs.payment != "" {
		fields = append(fields, zap.String(logPayment, rs.payment))
	}
	if rs.decision != "" {
		fields = append(fields, zap.String(logDecision, rs.decision))
	}
	if rs.code != "" {
		fields = append(fields, zap.String(logCode, rs.code))
	}
	if rs.bankTime > 0 {
		fields = append(fields, zap.Float64(logBankMS, float64(rs.bankTime.Microseconds())/1000))
	}
	if rs.cause != nil {
		fields = append(fields, zap.String(logCause, rs.cause.Error()))
	}
	switch {
	case status >= 500:
		r.log.Error(canonicalLine, fields...)
	case status >= 400:
		r.log.Warn(canonicalLine, fields...)
	default:
		r.log.Info(canonicalLine, fields...)
	}
}

// fasthttpLogger routes fasthttp's own messages to zap.
type fasthttpLogger struct{ l *zap.SugaredLogger }

func (f fasthttpLogger) Printf(format string, args ...any) { f.l.Infof(format, args...) }

// survive runs fn and turns a panic into an error log and a metric, so
// that one malformed record cannot stop a background worker or take the
// whole relay down with it. The request handler has its own recovery.
// It reports whether fn panicked.
func (r *Relay) survive(worker string, fn func()) (panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			panicked = true
			r.metrics.inc("posrelay_panics_total", "worker", worker)
			r.log.Error("recovered from a panic; carrying on", zap.String("worker", worker),
				zap.String(logCause, fmt.Sprint(p)), zap.Stack("stack"))
		}
	}()
	fn()
	return false
}
