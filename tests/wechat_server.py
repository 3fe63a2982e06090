"""A local WeChat for the tests: the mini-program server API (api.weixin.qq.com) and WeChat Pay API v3
(api.mch.weixin.qq.com) over real HTTP, as their documentation describes them, with keys the tests generate.

Written from the protocol documents with `cryptography` alone (not with the `wechatpayv3` package our provider is
built on), so the two sides check each other:
- mini-program: GET /sns/jscode2session (a code works once; errcodes 40029, 40163, 40013, 40125, and any errcode
  a test queues, e.g. -1 busy or 45011 rate limit), POST /cgi-bin/stable_token (the same token until its last 5
  minutes, a new one when forced), GET /cgi-bin/token, POST /wxa/business/getuserphonenumber (40001 for an
  unknown access token, 42001 for an expired one, 40029 for an unknown code);
- WeChat Pay: every request must carry `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=...,nonce_str=...,
  signature=...,timestamp=...,serial_no=...`, checked against the merchant's public key (401 SIGN_ERROR
  otherwise), and every 2xx answer is signed with the platform key (Wechatpay-Signature over timestamp, nonce and
  body, Wechatpay-Serial = the platform public key id). POST /v3/pay/transactions/jsapi (same order and same
  content: same prepay_id; changed content: 400 INVALID_REQUEST; paid: 400 ORDERPAID),
  GET /v3/pay/transactions/out-trade-no/{no}, POST /v3/refund/domestic/refunds (idempotent on out_refund_no,
  never more than was paid, and a failure a test queues: 403 NOT_ENOUGH, 500 SYSTEM_ERROR...).
- `notice(...)` builds the notification WeChat Pay would post to our notify URL: the transaction encrypted with
  AEAD_AES_256_GCM under the APIv3 key, the body signed with the platform key; its keyword arguments forge it
  (another signing key, another APIv3 key, an old timestamp, a changed body) for the refusal tests.
"""
import json
import re
import secrets
import string
import threading
import time
from base64 import b64decode, b64encode
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
CLOCK_SKEW_SECONDS = 300


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def rsa_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    return b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(public_key, message: str, signature: str) -> bool:
    try:
        public_key.verify(b64decode(signature, validate=True), message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def random_text(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass
class Keys:
    """What a merchant and WeChat Pay hold: the merchant's API key pair and certificate serial number, the
    platform's key pair and its public key id, the APIv3 key."""

    merchant: rsa.RSAPrivateKey = field(default_factory=rsa_key)
    merchant_serial: str = field(default_factory=lambda: secrets.token_hex(20).upper())
    platform: rsa.RSAPrivateKey = field(default_factory=rsa_key)
    platform_key_id: str = field(default_factory=lambda: f"PUB_KEY_ID_{secrets.token_hex(16).upper()}")
    apiv3_key: str = field(default_factory=lambda: random_text(32))


def encrypt_resource(plaintext: dict, *, apiv3_key: str, associated_data: str) -> dict:
    nonce = random_text(12)
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), json.dumps(plaintext).encode(),
                                                    associated_data.encode())
    return {"algorithm": "AEAD_AES_256_GCM", "ciphertext": b64encode(ciphertext).decode(),
            "associated_data": associated_data, "nonce": nonce}


class LocalWechat:
    def __init__(self, *, keys: Keys, appid: str, secret: str, mchid: str):
        self.keys, self.appid, self.secret, self.mchid = keys, appid, secret, mchid
        self.lock = threading.Lock()
        self.login_codes: dict[str, tuple[str, str]] = {}  # code -> (openid, unionid)
        self.used_codes: set[str] = set()
        self.openids: set[str] = set()
        self.queued_errcodes: list[int] = []  # answered by the next jscode2session / getuserphonenumber calls
        self.phone_codes: dict[str, tuple[str, str]] = {}  # code -> (country code, pure number)
        self.access_tokens: dict[str, float] = {}  # token -> expiry (time.time())
        self.current_access_token: str | None = None
        self.access_token_lifetime = 7200
        self.token_fetches = 0
        self.transactions: dict[str, dict] = {}  # out_trade_no -> transaction
        self.refunds: dict[str, dict] = {}  # out_refund_no -> refund
        self.queued_refund_failures: list[tuple[int, str, str]] = []  # (status, code, message)
        self.requests: list[tuple[str, str]] = []  # (method, path) of every call, in order
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="local-wechat", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "LocalWechat":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    # --- what a test arranges -------------------------------------------------------------------------------------
    def login_code(self, *, openid: str | None = None, unionid: str = "") -> str:
        """A code wx.login() would give the mini-program of the user `openid` (a new one by default)."""
        openid = openid or f"o{random_text(27)}"
        code = random_text(32)
        with self.lock:
            self.login_codes[code] = (openid, unionid)
            self.openids.add(openid)
        return code

    def phone_code(self, phone: str, *, country_code: str = "86") -> str:
        code = random_text(32)
        with self.lock:
            self.phone_codes[code] = (country_code, phone)
        return code

    def access_tokens_expire(self) -> None:
        """WeChat's clock runs past every access token's expiry (our cache does not know)."""
        with self.lock:
            self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)

    def pay(self, out_trade_no: str, *, transaction_id: str | None = None) -> dict:
        """The shopper pays in WeChat: the prepaid transaction succeeds. Returns it as WeChat Pay shows it."""
        with self.lock:
            transaction = self.transactions[out_trade_no]
            transaction.update(trade_state="SUCCESS", trade_state_desc="支付成功",
                               transaction_id=transaction_id or f"4200{random_text(24, string.digits)}",
                               success_time=datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
                               bank_type="OTHERS")
            transaction["amount"].update(payer_total=transaction["amount"]["total"], payer_currency="CNY")
            return json.loads(json.dumps(self._transaction_view(transaction)))

    def notice(self, transaction: dict, *, event_type: str = "TRANSACTION.SUCCESS", sign_with=None,
               apiv3_key: str | None = None, timestamp: int | None = None, serial: str | None = None,
               body_edit=None) -> tuple[bytes, dict[str, str]]:
        """The signed notification WeChat Pay posts for `transaction`, and its headers (as Django test-client
        keyword arguments). `body_edit(body: dict)` changes the body after signing, as a man in the middle would."""
        body = {"id": f"EV-{random_text(20, string.digits)}", "create_time": datetime.now(UTC).isoformat(),
                "resource_type": "encrypt-resource", "event_type": event_type,
                "summary": "支付成功" if event_type == "TRANSACTION.SUCCESS" else event_type,
                "resource": {"original_type": "transaction" if event_type.startswith("TRANSACTION") else "refund",
                             **encrypt_resource(transaction, apiv3_key=apiv3_key or self.keys.apiv3_key,
                                                associated_data="transaction")}}
        raw = json.dumps(body, ensure_ascii=False)
        stamp, nonce = str(timestamp if timestamp is not None else int(time.time())), random_text(32)
        signature = rsa_sign(sign_with or self.keys.platform, f"{stamp}\n{nonce}\n{raw}\n")
        if body_edit is not None:
            body_edit(body)
            raw = json.dumps(body, ensure_ascii=False)
        headers = {"HTTP_WECHATPAY_SIGNATURE": signature, "HTTP_WECHATPAY_TIMESTAMP": stamp,
                   "HTTP_WECHATPAY_NONCE": nonce, "HTTP_WECHATPAY_SERIAL": serial or self.keys.platform_key_id,
                   "HTTP_WECHATPAY_SIGNATURE_TYPE": SIGNATURE_TYPE}
        return raw.encode(), headers

    # --- the server -----------------------------------------------------------------------------------------------
    def _handler_class(self):
        wechat = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # quiet: the tests assert on `requests`
                return

            def do_GET(self):
                wechat._dispatch(self, "GET", b"")

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                wechat._dispatch(self, "POST", self.rfile.read(length))

        return Handler

    def _dispatch(self, handler, method: str, body: bytes) -> None:
        target = handler.path
        path, query = urlsplit(target).path, {key: values[-1] for key, values in parse_qs(urlsplit(target).query)
                                               .items()}
        with self.lock:
            self.requests.append((method, path))
        routes = {
            ("GET", "/sns/jscode2session"): self._jscode2session,
            ("POST", "/cgi-bin/stable_token"): self._stable_token,
            ("GET", "/cgi-bin/token"): self._token,
            ("POST", "/wxa/business/getuserphonenumber"): self._phone_number,
            ("POST", "/v3/pay/transactions/jsapi"): self._prepay,
            ("POST", "/v3/refund/domestic/refunds"): self._refund,
        }
        if (method, path) in routes:
            status, payload, headers = routes[(method, path)](query=query, body=body, handler=handler,
                                                             target=target)
        elif method == "GET" and path.startswith("/v3/pay/transactions/out-trade-no/"):
            status, payload, headers = self._query(query=query, body=body, handler=handler, target=target)
        else:
            status, payload, headers = 404, {"errcode": 404, "errmsg": "not found"}, {}
        data = json.dumps(payload, ensure_ascii=False).encode()
        handler.send_response(status)
        for name, value in {"Content-Type": "application/json; charset=utf-8", **headers}.items():
            handler.send_header(name, value)
        if path.startswith("/v3/") and 200 <= status < 300:
            for name, value in self._response_signature(data.decode()).items():
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    # --- mini-program server API ----------------------------------------------------------------------------------
    def _credentials_error(self, appid: str | None, secret: str | None) -> dict | None:
        if appid != self.appid:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if secret != self.secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        return None

    def _queued_errcode(self) -> dict | None:
        with self.lock:
            if self.queued_errcodes:
                errcode = self.queued_errcodes.pop(0)
                return {"errcode": errcode, "errmsg": {-1: "system error", 45011: "api minute-quota reach limit"}
                        .get(errcode, "error")}
        return None

    def _jscode2session(self, *, query, **_):
        error = self._credentials_error(query.get("appid"), query.get("secret")) or self._queued_errcode()
        if error is None and query.get("grant_type") != "authorization_code":
            error = {"errcode": 40002, "errmsg": "invalid grant_type"}
        if error is not None:
            return 200, error, {"Content-Type": "text/plain"}
        code = query.get("js_code", "")
        with self.lock:
            if code in self.used_codes:
                return 200, {"errcode": 40163, "errmsg": "code been used"}, {"Content-Type": "text/plain"}
            identity = self.login_codes.pop(code, None)
            if identity is None:
                return 200, {"errcode": 40029, "errmsg": "invalid code"}, {"Content-Type": "text/plain"}
            self.used_codes.add(code)
        openid, unionid = identity
        answer = {"openid": openid, "session_key": b64encode(secrets.token_bytes(16)).decode()}
        if unionid:
            answer["unionid"] = unionid
        # The real jscode2session answers JSON labelled as text/plain.
        return 200, answer, {"Content-Type": "text/plain"}

    def _issue_access_token(self) -> str:
        token = random_text(136, string.ascii_letters + string.digits + "_-")
        self.access_tokens[token] = time.time() + self.access_token_lifetime
        self.current_access_token = token
        self.token_fetches += 1
        return token

    def _stable_token(self, *, body, **_):
        try:
            request = json.loads(body)
        except ValueError:
            return 200, {"errcode": 47001, "errmsg": "data format error"}, {}
        error = self._credentials_error(request.get("appid"), request.get("secret"))
        if error is None and request.get("grant_type") != "client_credential":
            error = {"errcode": 40002, "errmsg": "invalid grant_type"}
        if error is not None:
            return 200, error, {}
        with self.lock:
            current = self.current_access_token
            left = self.access_tokens.get(current, 0.0) - time.time() if current else 0.0
            if request.get("force_refresh") or left < 300:
                if request.get("force_refresh") and current:
                    self.access_tokens.pop(current, None)
                current = self._issue_access_token()
                left = self.access_token_lifetime
            else:
                self.token_fetches += 1
        return 200, {"access_token": current, "expires_in": int(left)}, {}

    def _token(self, *, query, **_):
        error = self._credentials_error(query.get("appid"), query.get("secret"))
        if error is not None:
            return 200, error, {}
        with self.lock:
            token = self._issue_access_token()
        return 200, {"access_token": token, "expires_in": self.access_token_lifetime}, {}

    def _phone_number(self, *, query, body, **_):
        with self.lock:
            expiry = self.access_tokens.get(query.get("access_token", ""))
        if expiry is None:
            return 200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}, {}
        if expiry <= time.time():
            return 200, {"errcode": 42001, "errmsg": "access_token expired"}, {}
        queued = self._queued_errcode()
        if queued is not None:
            return 200, queued, {}
        try:
            code = json.loads(body).get("code", "")
        except (ValueError, AttributeError):
            return 200, {"errcode": 47001, "errmsg": "data format error"}, {}
        with self.lock:
            phone = self.phone_codes.pop(code, None)
        if phone is None:
            return 200, {"errcode": 40029, "errmsg": "invalid code"}, {}
        country_code, number = phone
        full = number if country_code == "86" else f"+{country_code}{number}"
        return 200, {"errcode": 0, "errmsg": "ok", "phone_info": {
            "phoneNumber": full, "purePhoneNumber": number, "countryCode": country_code,
            "watermark": {"timestamp": int(time.time()), "appid": self.appid}}}, {}

    # --- WeChat Pay API v3 ----------------------------------------------------------------------------------------
    def _response_signature(self, body: str) -> dict[str, str]:
        stamp, nonce = str(int(time.time())), random_text(32)
        return {"Wechatpay-Timestamp": stamp, "Wechatpay-Nonce": nonce,
                "Wechatpay-Signature": rsa_sign(self.keys.platform, f"{stamp}\n{nonce}\n{body}\n"),
                "Wechatpay-Serial": self.keys.platform_key_id, "Wechatpay-Signature-Type": SIGNATURE_TYPE,
                "Request-ID": secrets.token_hex(16)}

    def _merchant_refusal(self, handler, method: str, target: str, body: bytes) -> tuple | None:
        """The request's merchant signature, checked as WeChat Pay does; an error answer, or None when good."""
        scheme, _, params = handler.headers.get("Authorization", "").partition(" ")
        fields = dict(AUTH_FIELD.findall(params))
        refused = (401, {"code": "SIGN_ERROR", "message": "签名错误"}, {})
        if scheme != SIGNATURE_TYPE or fields.get("mchid") != self.mchid:
            return refused
        if fields.get("serial_no") != self.keys.merchant_serial:
            return refused
        stamp = fields.get("timestamp", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > CLOCK_SKEW_SECONDS:
            return refused
        message = f"{method}\n{target}\n{stamp}\n{fields.get('nonce_str', '')}\n{body.decode()}\n"
        if not rsa_verify(self.keys.merchant.public_key(), message, fields.get("signature", "")):
            return refused
        if handler.headers.get("Wechatpay-Serial") not in (None, self.keys.platform_key_id):
            return 400, {"code": "PARAM_ERROR", "message": "Wechatpay-Serial 不是有效的平台公钥 ID"}, {}
        return None

    def _prepay(self, *, body, handler, target, **_):
        refusal = self._merchant_refusal(handler, "POST", target, body)
        if refusal:
            return refusal
        try:
            request = json.loads(body)
            amount, number, openid = request["amount"], request["out_trade_no"], request["payer"]["openid"]
            total, description = amount["total"], request["description"]
            datetime.fromisoformat(request.get("time_expire") or "2000-01-01T00:00:00+08:00")
        except (ValueError, KeyError, TypeError):
            return 400, {"code": "PARAM_ERROR", "message": "参数错误"}, {}
        if (request.get("appid") != self.appid or request.get("mchid") != self.mchid
                or not isinstance(total, int) or total < 1 or amount.get("currency", "CNY") != "CNY"
                or not OUT_TRADE_NO.fullmatch(str(number)) or not 0 < len(description) <= 127
                or not str(request.get("notify_url", "")).startswith("https://")):
            return 400, {"code": "PARAM_ERROR", "message": "参数错误"}, {}
        if openid not in self.openids:
            return 400, {"code": "PARAM_ERROR", "message": "openid 与 appid 不匹配"}, {}
        with self.lock:
            existing = self.transactions.get(number)
            if existing is not None:
                if existing["trade_state"] == "SUCCESS":
                    return 400, {"code": "ORDERPAID", "message": "该订单已支付"}, {}
                if (existing["amount"]["total"], existing["description"], existing["payer"]["openid"]) != (
                        total, description, openid):
                    return 400, {"code": "INVALID_REQUEST", "message": "201 商户订单号重复"}, {}
                return 200, {"prepay_id": existing["prepay_id"]}, {}
            prepay_id = f"wx{random_text(34, string.ascii_lowercase + string.digits)}"
            self.transactions[number] = {
                "appid": self.appid, "mchid": self.mchid, "out_trade_no": number, "trade_type": "JSAPI",
                "trade_state": "NOTPAY", "trade_state_desc": "订单未支付", "description": description,
                "payer": {"openid": openid}, "amount": {"total": total, "currency": "CNY"},
                "prepay_id": prepay_id, "time_expire": request.get("time_expire"),
                "notify_url": request["notify_url"], "refunded": 0}
        return 200, {"prepay_id": prepay_id}, {}

    def _transaction_view(self, transaction: dict) -> dict:
        hidden = {"prepay_id", "description", "time_expire", "notify_url", "refunded"}
        return {key: value for key, value in transaction.items() if key not in hidden}

    def _query(self, *, query, handler, target, body, **_):
        refusal = self._merchant_refusal(handler, "GET", target, body)
        if refusal:
            return refusal
        if query.get("mchid") != self.mchid:
            return 400, {"code": "PARAM_ERROR", "message": "mchid 不匹配"}, {}
        number = urlsplit(target).path.rsplit("/", 1)[-1]
        with self.lock:
            transaction = self.transactions.get(number)
            if transaction is None:
                return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}, {}
            return 200, self._transaction_view(transaction), {}

    def _refund(self, *, body, handler, target, **_):
        refusal = self._merchant_refusal(handler, "POST", target, body)
        if refusal:
            return refusal
        try:
            request = json.loads(body)
            number, amount = request["out_refund_no"], request["amount"]
            refund, total = amount["refund"], amount["total"]
        except (ValueError, KeyError, TypeError):
            return 400, {"code": "PARAM_ERROR", "message": "参数错误"}, {}
        if not OUT_REFUND_NO.fullmatch(str(number)) or not isinstance(refund, int) or refund < 1:
            return 400, {"code": "PARAM_ERROR", "message": "out_refund_no 或金额不合法"}, {}
        with self.lock:
            if self.queued_refund_failures:
                status, code, message = self.queued_refund_failures.pop(0)
                return status, {"code": code, "message": message}, {}
            if number in self.refunds:
                return 200, self.refunds[number], {}
            transaction = next((t for t in self.transactions.values()
                                if t.get("transaction_id") == request.get("transaction_id")
                                or t["out_trade_no"] == request.get("out_trade_no")), None)
            if transaction is None or transaction["trade_state"] != "SUCCESS":
                return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"}, {}
            if total != transaction["amount"]["total"] or transaction["refunded"] + refund > total:
                return 400, {"code": "INVALID_REQUEST", "message": "退款金额超过订单可退金额"}, {}
            transaction["refunded"] += refund
            self.refunds[number] = {
                "refund_id": f"50300{random_text(24, string.digits)}", "out_refund_no": number,
                "transaction_id": transaction["transaction_id"], "out_trade_no": transaction["out_trade_no"],
                "channel": "ORIGINAL", "user_received_account": "支付用户零钱", "status": "PROCESSING",
                "create_time": (datetime.now(UTC) + timedelta(seconds=0)).astimezone().isoformat(timespec="seconds"),
                "amount": {"refund": refund, "total": total, "payer_refund": refund, "payer_total": total,
                           "currency": "CNY"}}
            return 200, self.refunds[number], {}
