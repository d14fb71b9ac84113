FROM slipway.local/base/debian:bookworm
COPY greeting.txt /greeting.txt
RUN echo "building greeter"
CMD ["cat", "/greeting.txt"]
