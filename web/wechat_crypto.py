"""WeChat 安全模式/兼容模式 message encryption (the published "消息加解密" algorithm), with the
`cryptography` package.

- key: base64-decode(EncodingAESKey + "=") → 32 bytes (AES-256); IV = the key's first 16 bytes;
- plaintext: 16 random bytes + the message's length (4 bytes, network order) + message + AppID,
  PKCS#7-padded to a multiple of **32** bytes (not AES's 16), then AES-256-CBC, then base64;
- msg_signature = sha1 of the sorted [token, timestamp, nonce, Encrypt] joined;
- a decrypted message must end with our AppID (a message encrypted for another account under a
  leaked key is refused); a reply is encrypted the same way and signed with a fresh nonce.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeChat pads to 32 bytes, whatever AES's block size


class WeChatCryptoError(ValueError):
    """The message is not one our account's key and AppID produced (or it was altered)."""


def msg_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class WeChatCrypto:
    token: str
    aes_key: bytes  # 32 bytes, from the EncodingAESKey
    appid: str

    @classmethod
    def from_encoding_key(cls, token: str, encoding_aes_key: str, appid: str) -> WeChatCrypto:
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error as exc:
            raise WeChatCryptoError("EncodingAESKey 不是有效的 base64") from exc
        if len(encoding_aes_key) != 43 or len(key) != 32:
            raise WeChatCryptoError("EncodingAESKey 应为 43 个字符(解码后 32 字节)")
        return cls(token, key, appid)

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.aes_key), modes.CBC(self.aes_key[:16]))

    def verify(self, signature: str, timestamp: str, nonce: str, encrypted: str) -> bool:
        expected = msg_signature(self.token, timestamp, nonce, encrypted)
        return hmac.compare_digest(signature.lower().encode("ascii", "replace"), expected.encode("ascii"))

    def decrypt(self, encrypted: str) -> bytes:
        """The message XML inside `encrypted`; WeChatCryptoError for anything else."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except binascii.Error as exc:
            raise WeChatCryptoError("Encrypt 不是有效的 base64") from exc
        if not data or len(data) % 16:
            raise WeChatCryptoError("密文长度不对")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise WeChatCryptoError("填充无效(密钥不对或密文被改动)")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise WeChatCryptoError("明文太短")
        (length,) = struct.unpack(">I", plain[16:20])
        message, appid = plain[20 : 20 + length], plain[20 + length :]
        if len(message) != length:
            raise WeChatCryptoError("消息长度不对")
        if not hmac.compare_digest(appid, self.appid.encode("utf-8")):
            raise WeChatCryptoError("AppID 不符:消息不是发给本公众号的")
        return message

    def encrypt(self, message: bytes) -> str:
        plain = secrets.token_bytes(16) + struct.pack(">I", len(message)) + message + self.appid.encode("utf-8")
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")

    def encrypted_reply(self, reply_xml: str, timestamp: int) -> str:
        """The passive reply as WeChat expects it in 安全模式: Encrypt, MsgSignature, TimeStamp, Nonce."""
        encrypted = self.encrypt(reply_xml.encode("utf-8"))
        nonce = str(secrets.randbelow(10**9) + 10**9)  # WeChat's own nonces are digits
        signature = msg_signature(self.token, str(timestamp), nonce, encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )


__all__ = ["BLOCK", "WeChatCrypto", "WeChatCryptoError", "msg_signature"]
