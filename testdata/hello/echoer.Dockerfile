FROM slipway.local/base/debian:bookworm
RUN echo "building echoer"
CMD ["echo", "echoer ok"]
