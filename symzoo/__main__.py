from symzoo.cli import main

if __name__ == "__main__":  # `python -m symzoo`; importing this module (docs tools do) runs nothing
    raise SystemExit(main())
