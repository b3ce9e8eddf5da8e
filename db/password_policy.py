"""What a password must be: long enough, not too long, not a well-known one."""

from __future__ import annotations

from db.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 128
MIN_DISTINCT = 5
# The most used passwords of public breach lists, lower-cased, that satisfy the length rule.
COMMON = frozenset(
    (
        "1234567890",
        "0123456789",
        "1111111111",
        "0000000000",
        "1234512345",
        "qwertyuiop",
        "qwertyuiop1",
        "1q2w3e4r5t",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "password12",
        "password123",
        "password1234",
        "passw0rd123",
        "iloveyou123",
        "qwerty1234",
        "qwerty12345",
        "qwerty123456",
        "abc1234567",
        "abcd123456",
        "123qweasdzxc",
        "zaq12wsxcde",
        "987654321",
        "9876543210",
        "abcdefghij",
        "letmein123",
        "welcome123",
        "football123",
        "baseball123",
        "sunshine123",
        "princess123",
        "dragon1234",
        "monkey1234",
        "starwars123",
        "superman123",
        "trustno1234",
        "administrator",
        "changeme123",
        "computer123",
        "whatever123",
    )
)


def check_password(password: str, *, email: str = "", display_name: str = "") -> None:
    problem = None
    lowered = password.lower()
    if len(password) < MIN_LENGTH:
        problem = f"must be at least {MIN_LENGTH} characters"
    elif len(password) > MAX_LENGTH:
        problem = f"must be at most {MAX_LENGTH} characters"
    elif len(set(password)) < MIN_DISTINCT:
        problem = f"must use at least {MIN_DISTINCT} different characters"
    elif lowered in COMMON:
        problem = "is one of the most common passwords"
    elif email and email.split("@")[0].lower() in lowered and len(email.split("@")[0]) >= 4:
        problem = "must not contain your email address"
    elif display_name and len(display_name) >= 4 and display_name.lower() in lowered:
        problem = "must not contain your display name"
    if problem:
        raise InvalidInput("The password is too weak.", details={"password": problem})
