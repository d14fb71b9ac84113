"""api: the fleet's Python service. Prints its status line and exits."""
import platform


def main() -> None:
    print(f"api ok python={platform.python_version()}")


if __name__ == "__main__":
    main()
